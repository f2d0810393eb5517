"""gunicorn settings, from the environment (the image and the native stack both use this file).

A sign-in waits on the directory at most LDAP_TIMEOUT in all: its operations share one deadline,
and while the directory is unreachable they fail at once (identity.breaker). A session's check
against the directory runs beside its page, never in front of it (identity.revalidation).
Nothing else here bounds a request: with gthread workers, ``timeout`` is the worker's heartbeat
(the main thread keeps it alive while request threads run), not a per-request limit, so gunicorn
would not cut short a request that runs long; the app's own deadline is what does.
"""

from __future__ import annotations

import os

_ldap_timeout = int(os.environ.get("LDAP_TIMEOUT", "5"))

wsgi_app = "config.wsgi:application"
pythonpath = "app"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = max(30, 4 * _ldap_timeout)
graceful_timeout = timeout
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# A tmpfs for the worker heartbeat where there is one (containers), as gunicorn's docs advise.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's own advice; only the worker heartbeat files go here
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# gunicorn's control socket (gunicornc) defaults to ~/.gunicorn/gunicorn.ctl: in the image that
# is root-owned /app (an error at every start), and natively every stack of one user shares the
# one socket, and one stack's shutdown deletes another's. Each stack names its own
# (deploy/native.sh: in its RUN_DIR); unnamed, there is none.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket
