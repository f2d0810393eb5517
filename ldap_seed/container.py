"""The compose stack's directory, osixia/openldap, started through testcontainers.

The image, command, environment and mounts are read from docker-compose.yml itself, so what the
tests start is what ``make up`` starts; with ``LDAP_CONTAINER_OVERRIDE`` naming a compose override
file (deploy/compose.ldap-seed.yml: the directory image built from ldap_seed, where osixia cannot
be pulled), that file's image and command replace the main file's. Host paths under
``.run/compose-tls`` are replaced by this directory's own certificate folder. It offers what the
tests use of ``JumpCloudDirectory``: ``ldap_uri``, ``ldaps_uri``, ``cafile``, ``modify``,
``halt``, ``stop``.

Any Docker-compatible engine will do: ``DOCKER_HOST`` may name podman's API socket
(``deploy/podman.sh api start``; testcontainers' Ryuk reaper then needs
``TESTCONTAINERS_RYUK_DISABLED=true``, as its image cannot be pulled either).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from ldap_seed import SEED_DIR
from ldap_seed.directory import ensure_certificates, modify_as_admin

REPO_DIR = SEED_DIR.parent
COMPOSE_FILE = REPO_DIR / "docker-compose.yml"


def docker_engine_problem() -> str | None:
    """None when a Docker engine (or podman's API) answers at DOCKER_HOST, else why not (for a skip reason)."""
    import docker

    where = os.environ.get("DOCKER_HOST", "the default socket")
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except docker.errors.DockerException as error:
        return f"no Docker engine answers at {where} ({str(error).splitlines()[0]})"
    return None


def docker_host_address() -> str:
    """Where the engine publishes ports: its host for tcp://, this machine for a local socket.

    (testcontainers' get_container_host_ip() reads HostConfig from the container list, which
    podman's Docker-compatible API leaves out of it.)
    """
    url = urlparse(os.environ.get("DOCKER_HOST", ""))
    return url.hostname if url.scheme in ("tcp", "http", "https") and url.hostname else "127.0.0.1"


def compose_service(name: str, override_file: Path | None = None) -> dict[str, Any]:
    """A service of docker-compose.yml; with an override file, its image and command instead."""
    service: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]
    if override_file is not None:
        override = yaml.safe_load(override_file.read_text())["services"].get(name, {})
        service.update({key: override[key] for key in ("image", "command") if key in override})
    return service


def directory_override() -> Path | None:
    name = os.environ.get("LDAP_CONTAINER_OVERRIDE")
    return REPO_DIR / name if name else None


class OsixiaDirectory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.tls_dir = self.state_dir / "tls"
        self.cafile = str(self.tls_dir / "ca.crt")
        self.service = compose_service("openldap", directory_override())
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
        try:
            self._wait_until_healthy()
            host = docker_host_address()
            self.ldap_uri = f"ldap://{host}:{container.get_exposed_port(389)}"
            self.ldaps_uri = f"ldaps://{host}:{container.get_exposed_port(636)}"
        except BaseException:
            self.stop()
            raise

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
        logs = self._container.get_wrapped_container().logs(tail=20).decode(errors="replace")
        raise RuntimeError(f"{self.service['image']} was not healthy within {seconds:.0f}s:\n{logs}")

    def modify(self, ldif: str) -> None:
        modify_as_admin(self.ldap_uri, ldif)

    def halt(self) -> None:
        self._container.get_wrapped_container().stop()

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
