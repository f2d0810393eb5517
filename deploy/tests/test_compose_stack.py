"""The compose stack, checked without a Docker engine: what it mounts, publishes and probes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from ldap_seed import LDIF_DIR, SCHEMA_DIR, SERVICE_DN, SERVICE_PASSWORD, USERS_DN
from ldap_seed.container import REPO_DIR, compose_service, docker_engine_problem
from ldap_seed.directory import TLS_NAMES, JumpCloudDirectory

pytestmark = pytest.mark.containers

BOOTSTRAP = "/container/service/slapd/assets/config/bootstrap"
LOCAL_ENV = dotenv_values(REPO_DIR / "deploy/env/local.env")


def bind_mounts(service: str) -> dict[str, Path]:
    """Host folder by container path, with ${VAR:-default} read as its default."""
    mounts = {}
    for volume in compose_service(service)["volumes"]:
        volume = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", volume)
        host, target, *_ = volume.split(":")
        if host.startswith("./"):
            mounts[target] = (REPO_DIR / host).resolve()
    return mounts


def test_directory_mounts_are_the_folders_the_native_runner_loads() -> None:
    mounts = bind_mounts("openldap")
    assert mounts[f"{BOOTSTRAP}/schema/custom"] == SCHEMA_DIR
    assert mounts[f"{BOOTSTRAP}/ldif/custom"] == LDIF_DIR


def test_directory_is_the_pinned_image_with_copy_service_and_optional_profile() -> None:
    openldap = compose_service("openldap")
    assert openldap["image"] == "osixia/openldap:1.5.0"
    assert "--copy-service" in openldap["command"]
    assert openldap["profiles"] == ["directory"]
    environment = openldap["environment"]
    assert environment["LDAP_DOMAIN"] == "jumpcloud.com"
    assert environment["LDAP_TLS_VERIFY_CLIENT"] == "try"


def test_everything_is_published_on_loopback_only() -> None:
    # The same variables as the native stack's move them (a second stack, the container tests).
    assert compose_service("app")["ports"] == ["127.0.0.1:${APP_PORT:-8000}:8000"]
    assert compose_service("openldap")["ports"] == [
        "127.0.0.1:${LDAP_PORT:-3389}:389",
        "127.0.0.1:${LDAPS_PORT:-3636}:636",
    ]


def test_app_waits_for_a_healthy_directory_and_keeps_its_database() -> None:
    app = compose_service("app")
    assert app["depends_on"]["openldap"] == {"condition": "service_healthy", "required": False}
    assert "app-data:/data" in app["volumes"]
    assert LOCAL_ENV["DATABASE_URL"] == "sqlite:////data/db.sqlite3"


def test_healthchecks_carry_no_argument_with_a_space() -> None:
    # podman's Docker-compatible API splits each argument on spaces: such a probe never passes.
    for name in ("app", "openldap"):
        kind, *arguments = compose_service(name)["healthcheck"]["test"]
        assert kind == "CMD", name
        assert all(argument.split() == [argument] for argument in arguments), (name, arguments)


def test_app_healthcheck_is_the_images_own_probe() -> None:
    probe = ["python", "deploy/healthcheck.py"]
    assert compose_service("app")["healthcheck"]["test"] == ["CMD", *probe]
    dockerfile = (REPO_DIR / "deploy/Dockerfile").read_text()
    assert f"CMD {json.dumps(probe)}" in dockerfile
    assert "deploy/healthcheck.py" in (REPO_DIR / ".dockerignore").read_text()


@pytest.mark.parametrize("dockerfile", ["deploy/Dockerfile", "ldap_seed/Dockerfile"])
def test_images_build_without_a_registry_for_the_frontend(dockerfile: str) -> None:
    # "# syntax=docker/dockerfile:1" makes BuildKit pull a frontend image: an offline build fails.
    lines = (REPO_DIR / dockerfile).read_text().splitlines()
    assert not [line for line in lines if re.match(r"#\s*syntax\s*=", line, re.IGNORECASE)]
    assert "ARG BASE_IMAGE=debian:bookworm-slim" in lines


def test_the_ldap_seed_directory_takes_osixias_place_with_its_mounts() -> None:
    override = yaml.safe_load((REPO_DIR / "deploy/compose.ldap-seed.yml").read_text())["services"]
    assert set(override) == {"openldap"}
    command = override["openldap"]["command"]
    mounts = bind_mounts("openldap")
    assert Path(mounts[command[command.index("--schema-dir") + 1]]) == SCHEMA_DIR
    assert Path(mounts[command[command.index("--ldif-dir") + 1]]) == LDIF_DIR
    assert f"{BOOTSTRAP.rsplit('/config/', 1)[0]}/certs" == command[command.index("--tls-dir") + 1]


def test_app_reaches_the_directory_by_a_name_its_certificate_carries() -> None:
    hostname = compose_service("openldap")["hostname"]
    assert LOCAL_ENV["LDAP_URI"] == f"ldap://{hostname}:389"
    assert LOCAL_ENV["LDAP_START_TLS"] == "true"
    assert hostname in TLS_NAMES
    assert bind_mounts("app")["/certs"] == (REPO_DIR / ".run/compose-ca").resolve()
    assert LOCAL_ENV["LDAP_CA_CERT_FILE"] == "/certs/ca.crt"


def test_directory_healthcheck_binds_as_the_service_account_and_reads_the_seed(directory: JumpCloudDirectory) -> None:
    command = compose_service("openldap")["healthcheck"]["test"][1:]
    assert command[command.index("-D") + 1] == SERVICE_DN
    assert command[command.index("-w") + 1] == SERVICE_PASSWORD
    assert command[command.index("-b") + 1].endswith(USERS_DN)
    # The same probe, pointed at the native runner, must pass there: it reads what the seed made.
    command[command.index("-H") + 1] = directory.ldap_uri
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "member: uid=ada" in result.stdout


def test_image_runs_gunicorn_behind_the_migrating_entrypoint() -> None:
    dockerfile = (REPO_DIR / "deploy/Dockerfile").read_text()
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
    assert 'CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py"]' in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    entrypoint = (REPO_DIR / "deploy/entrypoint.sh").read_text()
    assert "set -o errexit -o nounset -o pipefail" in entrypoint
    assert entrypoint.rstrip().endswith('exec "$@"')


def test_compose_config_renders_where_docker_exists() -> None:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"{problem}; docker-compose.yml is validated against the Compose schema by make lint instead")
    result = subprocess.run(
        ["docker", "compose", "--profile", "directory", "config", "--quiet"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
