"""The compose stack's directory, osixia/openldap, started through testcontainers.

The image, command, environment and mounts are read from docker-compose.yml itself, so what the
tests start is what ``make up`` starts. Host paths under ``.run/compose-tls`` are replaced by
this directory's own certificate folder. It offers what the tests use of
``JumpCloudDirectory``: ``ldap_uri``, ``ldaps_uri``, ``cafile``, ``modify``, ``halt``, ``stop``.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from ldap_seed import SEED_DIR
from ldap_seed.directory import ensure_certificates, modify_as_admin

REPO_DIR = SEED_DIR.parent
COMPOSE_FILE = REPO_DIR / "docker-compose.yml"


def docker_engine_problem() -> str | None:
    """None when a Docker engine answers, else why not (for a skip reason)."""
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no Docker engine answers ({error})"
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"no Docker engine answers ({last_line})"
    return None


def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]
    return service


class OsixiaDirectory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.tls_dir = self.state_dir / "tls"
        self.cafile = str(self.tls_dir / "ca.crt")
        self.service = compose_service("openldap")
        self._container: Any = None

    def start(self) -> None:
        from testcontainers.core.container import DockerContainer

        ensure_certificates(self.tls_dir)
        container = DockerContainer(self.service["image"])
        container.with_command(self.service["command"])
        container.with_kwargs(hostname=self.service["hostname"])
        for name, value in self.service["environment"].items():
            container.with_env(name, str(value))
        for host, target, mode in self._bind_mounts():
            container.with_volume_mapping(host, target, mode)
        container.with_exposed_ports(389, 636)
        self._container = container.start()
        self._wait_until_healthy()
        host = container.get_container_host_ip()
        self.ldap_uri = f"ldap://{host}:{container.get_exposed_port(389)}"
        self.ldaps_uri = f"ldaps://{host}:{container.get_exposed_port(636)}"

    def _bind_mounts(self) -> list[tuple[str, str, str]]:
        mounts = []
        for volume in self.service["volumes"]:
            volume = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", volume)  # ${VAR:-default}: the default
            host, target, *mode = volume.split(":")
            if not host.startswith("./"):
                continue  # named volumes: each test container starts empty
            path = REPO_DIR / host
            if path.is_relative_to(REPO_DIR / ".run/compose-tls"):
                path = self.tls_dir / path.name
            mounts.append((str(path), target, mode[0] if mode else "rw"))
        return mounts

    def _wait_until_healthy(self, seconds: float = 90) -> None:
        command = self.service["healthcheck"]["test"][1:]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            exit_code, _ = self._container.exec(command)
            if exit_code == 0:
                return
            time.sleep(1)
        raise RuntimeError(f"osixia/openldap was not healthy within {seconds:.0f}s")

    def modify(self, ldif: str) -> None:
        modify_as_admin(self.ldap_uri, ldif)

    def halt(self) -> None:
        self._container.get_wrapped_container().stop()

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
