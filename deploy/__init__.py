"""Everything a deployment needs (images, entrypoint, gunicorn, env files, Kubernetes), and the
scaled stack's runner (``deploy.scaled``)."""
