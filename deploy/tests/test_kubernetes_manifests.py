"""The Kubernetes manifests (deploy/kubernetes/), rendered with `kubectl kustomize` as `make lint`
does, against the settings: every variable they set is one the settings read, and with exactly
their environment the settings load and `check --deploy` passes (so every required one is set).

The names the settings read come from the source: each ``env_*("NAME", ...)`` call in app/config/
(``env_secret`` reads ``NAME_FILE`` too) and each ``os.environ`` read there and in gunicorn's config.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.native import REPO_DIR

KUSTOMIZATIONS = ["base", "overlays/staging"]
SETTINGS_SOURCES = [
    *sorted((REPO_DIR / "app/config").glob("*.py")),
    REPO_DIR / "app/identity/directory_settings.py",
    REPO_DIR / "deploy/gunicorn.conf.py",
]
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list", "env_secret"}
WORKLOADS = {"Deployment", "Job", "CronJob"}


def render(kustomization: str) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (make lint installs Debian's kubernetes-client)")
    result = subprocess.run(
        ["kubectl", "kustomize", str(REPO_DIR / "deploy/kubernetes" / kustomization)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def names_the_settings_read() -> set[str]:
    names: set[str] = set()
    for path in SETTINGS_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            function = node.func
            if isinstance(function, ast.Name) and function.id in ENV_READERS:
                names.add(first.value)
                if function.id == "env_secret":
                    names.add(f"{first.value}_FILE")
            elif isinstance(function, ast.Attribute) and ast.unparse(function) in ("os.environ.get", "os.getenv"):
                names.add(first.value)
    return names


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        spec: dict[str, Any] = workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    spec = workload["spec"]["template"]["spec"]
    return spec


def container_environment(container: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, str]:
    """The variables a container gets: its ConfigMaps' data, then its own env values."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in documents if d["kind"] == "ConfigMap"}
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "secrets come as files (NAME_FILE), so their names stay visible"
        environment.update(config_maps[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        assert "value" in variable, f"{variable['name']}: a literal value or a file, not valueFrom"
        environment[variable["name"]] = variable["value"]
    return environment


def workloads(documents: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}/{c['name']}", c)
        for d in documents
        if d["kind"] in WORKLOADS
        for c in pod_spec(d)["containers"]
    ]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_variable_set_is_one_the_settings_read(kustomization: str) -> None:
    documents = render(kustomization)
    known = names_the_settings_read()
    assert {"LDAP_URI", "DJANGO_SECRET_KEY_FILE", "REDIS_URL_FILE", "GUNICORN_WORKERS"} <= known
    for where, container in workloads(documents):
        unknown = set(container_environment(container, documents)) - known
        assert not unknown, f"{where} sets variables no setting reads: {sorted(unknown)}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_settings_load_and_pass_the_deploy_checks_with_the_manifests_alone(
    kustomization: str, tmp_path: Path
) -> None:
    documents = render(kustomization)
    checked = set()
    for where, container in workloads(documents):
        environment = container_environment(container, documents)
        key = tuple(sorted(environment.items()))
        if key in checked:
            continue
        checked.add(key)
        # each secret file the manifests name, with a stand-in value of the right shape
        stand_ins = {
            "DJANGO_SECRET_KEY_FILE": "x" * 50 + "-stand-in-for-the-secret-key-of-a-deployment",
            "LDAP_BIND_PASSWORD_FILE": "stand-in-bind-password",
            "DATABASE_URL_FILE": "postgres://django:stand-in@postgres.example:5432/django",
            "REDIS_URL_FILE": "redis://:stand-in@redis.example:6379/0",
        }
        for name in [n for n in environment if n.endswith("_FILE")]:
            assert name in stand_ins, f"{where}: a test stand-in is missing for {name}"
            secret = tmp_path / name
            secret.write_text(stand_ins[name])
            environment[name] = str(secret)
        result = subprocess.run(
            [sys.executable, "app/manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=REPO_DIR,
            env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{where}: {result.stderr[-1500:]}"


def test_the_deployment_is_shaped_for_several_replicas() -> None:
    documents = {f"{d['kind']}/{d['metadata']['name']}": d for d in render("overlays/staging")}
    deployment = documents["Deployment/jumpcloud-django"]
    assert deployment["spec"]["replicas"] == 3
    spec = pod_spec(deployment)
    (app,) = spec["containers"]
    assert app["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["resources"]["requests"]
    assert app["resources"]["limits"]
    assert documents["CronJob/jumpcloud-django-ldap-sync"]["spec"]["concurrencyPolicy"] == "Forbid"
    assert documents["PodDisruptionBudget/jumpcloud-django"]["spec"]["minAvailable"] == 2
    assert documents["HorizontalPodAutoscaler/jumpcloud-django"]["spec"]["minReplicas"] == 3
    assert "Secret" not in {d.split("/")[0] for d in documents}, "no secret is committed, only referenced"
    # the Service reaches the web pods only, not the migrate or ldap-sync Jobs' pods
    selector = documents["Service/jumpcloud-django"]["spec"]["selector"]
    assert selector.items() <= spec_labels(deployment).items()
    for job in ("Job/jumpcloud-django-migrate", "CronJob/jumpcloud-django-ldap-sync"):
        assert not selector.items() <= spec_labels(documents[job]).items(), f"the Service would reach {job}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_workload_can_read_its_secret_files(kustomization: str) -> None:
    """A Secret's files are root's with the volume's defaultMode: a pod running as another user
    reads a file closed to others only through fsGroup (kubernetes/kubernetes#57923)."""
    for document in render(kustomization):
        if document["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(document)
        for volume in spec.get("volumes", []):
            if "secret" not in volume or volume["secret"].get("defaultMode", 0o644) & 0o004:
                continue
            assert spec["securityContext"].get("fsGroup") == spec["securityContext"]["runAsGroup"], (
                f"{document['kind']}/{document['metadata']['name']} cannot read the Secret {volume['name']}"
            )


def test_the_staging_overlay_runs_the_staging_image() -> None:
    images = {c["image"] for _, c in workloads(render("overlays/staging"))}
    assert images == {"registry.example.com/jumpcloud-django:staging"}


def spec_labels(workload: dict[str, Any]) -> dict[str, str]:
    template = (
        workload["spec"]["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else workload["spec"]["template"]
    )
    labels: dict[str, str] = template["metadata"]["labels"]
    return labels
