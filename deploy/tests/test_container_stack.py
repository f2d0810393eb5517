"""The compose stack as containers really run it (podman), checked from outside and inside.

`make test-containers` (.ci/containers.sh) builds the images, starts the stack with podman-compose
and the directory built from ldap_seed, waits until both are healthy, runs the browser suite
against it, then this module, with CONTAINER_STACK naming the compose project. Without it these
tests skip: the ordinary suite does not build images.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from devstack.browser import Browser
from devstack.native import REPO_DIR
from ldap_seed.container import compose_service
from ldap_seed.personas import BY_UID

PROJECT = os.environ.get("CONTAINER_STACK", "")
APP_PORT = int(os.environ.get("APP_PORT") or "8000")
LOCAL_ENV = {name: value or "" for name, value in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}

pytestmark = [
    pytest.mark.containers,
    pytest.mark.skipif(
        not PROJECT, reason="runs in `make test-containers`, against the stack it starts (CONTAINER_STACK unset)"
    ),
]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO_DIR / "deploy/podman/containers.conf")}
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=120, check=check)


@pytest.fixture(scope="module")
def app_container() -> str:
    return f"{PROJECT}_app_1"


@pytest.fixture(scope="module")
def app_image(app_container: str) -> str:
    return podman("inspect", "--format", "{{.ImageName}}", app_container).stdout.strip()


def test_app_runs_as_an_unprivileged_user(app_container: str, app_image: str) -> None:
    assert podman("exec", app_container, "id", "-u").stdout.strip() == "10001"
    assert podman("image", "inspect", "--format", "{{.Config.User}}", app_image).stdout.strip() == "10001:10001"


def test_ldap_doctor_passes_inside_the_app_container(app_container: str) -> None:
    result = podman("exec", app_container, "python", "app/manage.py", "ldap_doctor", "--user", "linus", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout


def test_gunicorn_starts_without_a_control_socket_error(app_container: str) -> None:
    logs = podman("logs", app_container).stdout + podman("logs", app_container).stderr
    assert "Listening at: http://0.0.0.0:8000" in logs
    assert "Control server error" not in logs
    assert "control socket" not in logs.lower()


def test_the_directory_logs_to_the_container_log() -> None:
    # slapd's stats log goes to the container's stdout, not to a file growing in the data volume.
    logs = podman("logs", f"{PROJECT}_openldap_1")
    assert "ldap_seed: directory ready" in logs.stdout
    assert " BIND dn=" in logs.stdout + logs.stderr


def test_sign_in_reaches_the_directory_through_the_container_network() -> None:
    ada, joan = BY_UID["ada"], BY_UID["joan"]
    assert Browser("127.0.0.1", APP_PORT).sign_in(ada.uid, ada.password).status == 302
    assert Browser("127.0.0.1", APP_PORT).sign_in(joan.uid, joan.password).status == 200


def test_no_secret_in_the_images_history_environment_or_files(app_image: str) -> None:
    secrets = [LOCAL_ENV["DJANGO_SECRET_KEY"], LOCAL_ENV["LDAP_BIND_PASSWORD"]]
    secrets += [p.read_text().strip() for p in (REPO_DIR / "deploy/secrets").glob("*") if p.is_file()]
    for env_file in (REPO_DIR / "deploy/env").glob("*.env"):
        secrets += [v for k, v in dotenv_values(env_file).items() if v and ("SECRET" in k or "PASSWORD" in k)]
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", app_image).stdout
    environment = podman("image", "inspect", "--format", "{{json .Config.Env}}", app_image).stdout
    # The final image has none of the build stage's steps, so not even collectstatic's throwaway key.
    assert "collectstatic-only" not in history
    for secret in set(secrets):
        assert secret not in history
        assert secret not in environment
    # Every file of every layer, as the container sees them (the image mounted read-only).
    mount = podman("image", "mount", app_image).stdout.strip()
    try:
        found = subprocess.run(
            ["grep", "-rlF", *(arg for secret in set(secrets) for arg in ("-e", secret)), mount],
            capture_output=True,
            text=True,
            check=False,
        )
        assert found.stdout == "", f"secrets in image files: {found.stdout}"
        assert not list(Path(mount, "app").glob("**/*.env"))
    finally:
        podman("image", "unmount", app_image, check=False)


@pytest.fixture
def docker_api() -> Iterator[Any]:
    """A client of podman's Docker-compatible API (.ci/containers.sh starts it; DOCKER_HOST)."""
    if not os.environ.get("DOCKER_HOST"):
        pytest.skip("DOCKER_HOST unset: the podman API socket is not running")
    import docker

    client = docker.from_env()
    yield client
    client.close()


def test_compose_healthcheck_passes_through_the_docker_api(docker_api: Any, app_image: str) -> None:
    """The API splits healthcheck arguments on spaces; compose's probe must survive it (as under
    Docker Compose, testcontainers, or podman's docker-compose compatibility)."""
    healthcheck = compose_service("app")["healthcheck"]
    environment = {k: v for k, v in LOCAL_ENV.items() if k != "LDAP_CA_CERT_FILE"}  # no directory needed
    container = docker_api.containers.run(
        app_image,
        detach=True,
        environment=environment,
        healthcheck={"test": healthcheck["test"], "interval": 10**9, "timeout": 3 * 10**9, "retries": 3},
    )
    try:
        deadline = time.monotonic() + 60
        result = podman("healthcheck", "run", container.id, check=False)
        while result.returncode != 0 and time.monotonic() < deadline:
            time.sleep(1)
            result = podman("healthcheck", "run", container.id, check=False)
        configured = podman("inspect", "--format", "{{json .Config.Healthcheck.Test}}", container.id).stdout
        assert result.returncode == 0, f"{configured}: {result.stdout}{result.stderr}"
        assert json.loads(configured) == healthcheck["test"]
    finally:
        container.remove(force=True, v=True)  # and its anonymous /data volume


def test_podman_is_what_ran_these(app_container: str) -> None:
    assert shutil.which("podman")
    assert podman("inspect", "--format", "{{.State.Health.Status}}", app_container).stdout.strip() == "healthy"
