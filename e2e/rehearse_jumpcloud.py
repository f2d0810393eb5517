"""Rehearse a JumpCloud deployment: the app configured exactly as deploy/env/jumpcloud.env.example
says (ldaps with a CA file, the bind account, an o=<org> base DN), pointed at the local
directory, then the browser suite run with ``E2E_TARGET=jumpcloud`` and role credentials in the
environment, as it would run against staging.

    python e2e/rehearse_jumpcloud.py [pytest arguments]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dotenv import dotenv_values

from devstack.native import REPO_DIR, NativeStack
from devstack.roles import LOCAL_ROLES
from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID


def staging_env_file(directory: JumpCloudDirectory, path: Path, database: Path) -> None:
    """jumpcloud.env.example with its placeholders filled for the local directory."""
    example = dotenv_values(REPO_DIR / "deploy/env/jumpcloud.env.example")
    assert example["LDAP_URI"] == "ldaps://ldap.jumpcloud.com:636", "the example's URI changed: update the rehearsal"
    values = {
        **example,
        "DJANGO_SECRET_KEY": "rehearsal-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Staging sits behind a TLS-terminating proxy; here the browser talks to gunicorn directly.
        "DJANGO_HTTPS": "false",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "",
        "DJANGO_PROXY_COUNT": "0",
        "DATABASE_URL": f"sqlite:///{database}",
        "LDAP_URI": directory.ldaps_uri,  # verified against the CA; the certificate names 127.0.0.1
        "LDAP_CA_CERT_FILE": directory.cafile,
        "LDAP_BASE_DN": USERS_DN,
        "LDAP_BIND_DN": SERVICE_DN,
        "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
    }
    path.write_text("".join(f'{name}="{value}"\n' for name, value in values.items()))


def main(pytest_args: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as scratch:
        root = Path(scratch)
        directory = JumpCloudDirectory(root / "ldap", ephemeral=True)
        directory.start()
        stack = NativeStack(root / "run")
        env_file = root / "jumpcloud.env"
        staging_env_file(directory, env_file, root / "db.sqlite3")
        try:
            started = stack.run("up", "jumpcloud", extra_env={"JUMPCLOUD_ENV_FILE": str(env_file)})
            if started.returncode != 0:
                print(started.stdout, started.stderr, file=sys.stderr)
                return 1
            credentials = {}
            for role, uid in LOCAL_ROLES.items():
                credentials[f"E2E_{role.upper()}_USERNAME"] = uid
                credentials[f"E2E_{role.upper()}_PASSWORD"] = BY_UID[uid].password
            env = {**os.environ, **credentials, "E2E_TARGET": "jumpcloud", "E2E_BASE_URL": stack.url}
            # the harness tests check the suite itself, not the deployment: once, in the local run, is enough
            harness = str(REPO_DIR / "e2e/test_harness.py")
            command = [sys.executable, "-m", "pytest", str(REPO_DIR / "e2e"), "--ignore", harness, *pytest_args]
            return subprocess.run(command, env=env, cwd=REPO_DIR, check=False).returncode
        finally:
            stack.down()
            directory.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
