"""The rendered Kubernetes Deployment, played by podman with the app image: its pod answers /healthz.

`make test-containers` (.ci/containers.sh) builds the app image, then runs this module with
KUBE_PLAY_IMAGE naming it; without it these tests skip. The staging overlay is rendered with
`kubectl kustomize` as `make lint` does, and its Deployment and ConfigMap are played with
`podman kube play`, as a cluster would run them, with what a cluster would add made up here:

- the image: the one built here, tagged for this run only;
- the Secret `jumpcloud-django-secrets`: values made up here, never committed. The database is
  SQLite in the pod's `/tmp` emptyDir, not PostgreSQL: /healthz asks only that the database
  answers, and migrations are the migrate Job's, which podman does not run (it plays Pods and
  Deployments). REDIS_URL names a Redis that is not there: /healthz does not use the cache;
- one replica and a host port picked now: podman makes a pod per replica, each publishing the
  same host port, so only one of three could start;
- this run's own names for the Deployment, its volumes and the Secret: podman names pods, volumes
  and secrets after them machine-wide, so two runs would share them.

What podman (4.3, Debian 12's) does not honour, and how this test copes:

- the Secret: `kind: Secret` documents are played from podman 4.4. Here the test stores the
  Secret document as a podman secret, which a secret volume reads; podman 4.3 writes its `data`
  values as they are (later versions decode them from base64, as Kubernetes does: the test
  encodes them from 4.4 on, a branch not run on this project's machines), ignores
  `defaultMode` (the files are 0644, not 0400) and panics on a secret volume without `optional`;
- fsGroup (no supplementary group), an emptyDir's `medium: Memory` and `sizeLimit` (an emptyDir is
  a volume on disk, its directory copied from the image's): the image's `/dev/shm` is root's,
  mode 0755, so gunicorn (uid 10001) could not write its worker heartbeat to the `shm` emptyDir.
  The test leaves that volume out; podman's own `/dev/shm`, a tmpfs open to all as a cluster's
  container runtime gives, takes its place;
- the probes: readinessProbe is ignored; livenessProbe becomes a healthcheck running `curl` (not
  in the image) on port 0 (the probe's port is named), and nothing runs healthchecks without
  systemd. The test asks /healthz itself.

What it checks podman did honour: the command (gunicorn without the image's entrypoint), the
ConfigMap's settings, the Secret's files, uid and gid 10001, a read-only root filesystem with
`/tmp` writable, no capabilities, no privilege escalation, a seccomp filter, and the limits.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from devstack.native import REPO_DIR, free_port

IMAGE = os.environ.get("KUBE_PLAY_IMAGE", "")
DEPLOYMENT = "jumpcloud-django"
SECRET = "jumpcloud-django-secrets"
SHM_VOLUME = "shm"
STARTUP_SECONDS = 60

pytestmark = [
    pytest.mark.containers,
    pytest.mark.skipif(
        not IMAGE, reason="runs in `make test-containers`, with the image it builds (KUBE_PLAY_IMAGE unset)"
    ),
]


def podman(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO_DIR / "deploy/podman/containers.conf")}
    return subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=check
    )


def podman_version() -> tuple[int, int]:
    version = podman("version", "--format", "{{.Client.Version}}").stdout
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()  # type: ignore[union-attr]
    return int(major), int(minor)


def rendered_staging() -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(REPO_DIR / "deploy/kubernetes/overlays/staging")],
        capture_output=True,
        text=True,
        check=True,
    )
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@dataclass
class Played:
    """The pod podman made from the Deployment, and what the test gave it."""

    name: str
    container: str
    port: int
    deployment: dict[str, Any]
    config: dict[str, str]
    secret_values: dict[str, str]


def made_up_secret_values() -> dict[str, str]:
    return {
        "django-secret-key": secrets.token_urlsafe(50),
        "ldap-bind-password": secrets.token_urlsafe(16),
        "database-url": "sqlite:////tmp/db.sqlite3",
        "redis-url": "redis://127.0.0.1:9/0",
    }


def secret_document(name: str, values: dict[str, str], version: tuple[int, int]) -> str:
    if version >= (4, 4):
        data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    else:
        data = values  # podman 4.3 writes `data` values without decoding them
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})


def for_podman(documents: list[dict[str, Any]], run: str, image: str, port: int) -> list[dict[str, Any]]:
    """The Deployment and its ConfigMap, with this run's image, names, replica and host port."""
    (deployment,) = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == DEPLOYMENT]
    config_names = {source["configMapRef"]["name"] for c in pod_containers(deployment) for source in c["envFrom"]}
    config_maps = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] in config_names]
    deployment["metadata"]["name"] = run
    deployment["spec"]["replicas"] = 1
    spec = deployment["spec"]["template"]["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != SHM_VOLUME]
    for volume in spec["volumes"]:
        volume["name"] = f"{run}-{volume['name']}"
        if "secret" in volume:
            assert volume["secret"]["secretName"] == SECRET
            volume["secret"].update(secretName=f"{run}-secrets", optional=False)
    (app,) = spec["containers"]
    app["image"] = image
    app["ports"][0]["hostPort"] = port
    app["volumeMounts"] = [
        {**mount, "name": f"{run}-{mount['name']}"} for mount in app["volumeMounts"] if mount["name"] != SHM_VOLUME
    ]
    return [*config_maps, deployment]


def pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return containers


def leftovers(run: str) -> list[str]:
    found = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"name={run}").stdout.split()
    found += podman("pod", "ps", "--format", "{{.Name}}", "--filter", f"name={run}").stdout.split()
    found += podman("volume", "ls", "--format", "{{.Name}}", "--filter", f"name={run}").stdout.split()
    found += [s for s in podman("secret", "ls", "--format", "{{.Name}}").stdout.split() if s.startswith(run)]
    return found


@pytest.fixture(scope="module")
def played() -> Iterator[Played]:
    if shutil.which("podman") is None or shutil.which("kubectl") is None:
        pytest.skip("podman and kubectl are needed (make test-containers and make lint install them)")
    usable = subprocess.run([REPO_DIR / "deploy/podman.sh", "usable"], capture_output=True, text=True, check=False)
    if usable.returncode != 0:
        pytest.skip(usable.stdout.strip() or usable.stderr.strip())
    run = f"kube-play-{os.getpid()}-{secrets.token_hex(3)}"
    image = f"localhost/jumpcloud-django-kube-play:{run}"
    port = free_port()
    documents = rendered_staging()
    played_documents = for_podman(documents, run, image, port)
    kube_yaml = yaml.safe_dump_all(played_documents)
    values = made_up_secret_values()
    secret = f"{run}-secrets"
    podman("tag", IMAGE, image)
    try:
        podman("secret", "create", secret, "-", stdin=secret_document(secret, values, podman_version()))
        podman("kube", "play", "-", stdin=kube_yaml)
        pod = podman("pod", "ps", "--format", "{{.Name}}", "--filter", f"name={run}").stdout.split()
        assert len(pod) == 1, f"podman made these pods of one replica: {pod}"
        containers = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"pod={pod[0]}").stdout.split()
        (container,) = [name for name in containers if name.endswith("-app")]
        config = {k: v for d in played_documents if d["kind"] == "ConfigMap" for k, v in d["data"].items()}
        yield Played(pod[0], container, port, played_documents[-1], config, values)
    finally:
        podman("kube", "play", "--down", "-", stdin=kube_yaml, check=False)
        for pod_name in podman("pod", "ps", "--format", "{{.Name}}", "--filter", f"name={run}").stdout.split():
            podman("pod", "rm", "--force", pod_name, check=False)
        # podman 4.3 keeps the volume it made for the secret after --down
        for volume in podman("volume", "ls", "--format", "{{.Name}}", "--filter", f"name={run}").stdout.split():
            podman("volume", "rm", "--force", volume, check=False)
        podman("secret", "rm", secret, check=False)
        podman("untag", IMAGE, image, check=False)
        left = leftovers(run)
        assert not left, f"podman kube play --down left these behind: {left}"


def get(played: Played, path: str, host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{played.port}{path}", headers={"Host": host})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=3) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def container_status(played: Played) -> str:
    """``running``, or how it stopped: podman restarts a Deployment's container that exits."""
    state = "{{.State.Status}}, exit code {{.State.ExitCode}}, restarted {{.RestartCount}} times"
    return podman("inspect", "--format", state, played.container).stdout.strip()


@pytest.fixture(scope="module")
def answering(played: Played) -> Played:
    """The pod, once /healthz answers (as a readiness probe would wait for it)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    problem = ""
    while time.monotonic() < deadline:
        try:
            if get(played, "/healthz")[0] == 200:
                return played
        except OSError as error:
            problem = str(error)
        if container_status(played) != "running, exit code 0, restarted 0 times":
            break
        time.sleep(0.25)
    logs = podman("logs", "--tail", "40", played.container, check=False)
    pytest.fail(f"/healthz did not answer 200 ({problem}; {container_status(played)}):\n{logs.stdout}{logs.stderr}")


def test_the_pod_answers_healthz_with_its_database(answering: Played) -> None:
    status, headers, body = get(answering, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok"}
    assert headers["Cache-Control"] == "no-store"


def test_the_pod_runs_the_deployments_command_with_its_configmap(answering: Played) -> None:
    inspected = json.loads(podman("inspect", answering.container).stdout)[0]["Config"]
    entrypoint = inspected["Entrypoint"]  # podman 4.3 gives one string
    command = pod_containers(answering.deployment)[0]["command"]
    assert entrypoint in (command, " ".join(command))
    environment = dict(variable.split("=", 1) for variable in inspected["Env"])
    assert {k: environment[k] for k in answering.config} == answering.config
    # the ConfigMap's host names and HTTPS reach Django: its host is sent to HTTPS, another refused
    host = answering.config["DJANGO_ALLOWED_HOSTS"].split(",")[0]
    status, headers, _ = get(answering, "/", host=host)
    assert (status, headers["Location"]) == (301, f"https://{host}/")
    assert get(answering, "/", host="elsewhere.example.com")[0] == 400


def test_the_secret_arrives_as_files_named_by_the_deployment(answering: Played) -> None:
    for variable in pod_containers(answering.deployment)[0]["env"]:
        if variable["name"].endswith("_FILE"):
            key = variable["value"].rsplit("/", 1)[1]
            read = podman("exec", answering.container, "cat", variable["value"]).stdout
            assert read == answering.secret_values[key], variable["name"]


def test_the_security_context_is_honoured(answering: Played) -> None:
    container = answering.container
    context = answering.deployment["spec"]["template"]["spec"]["securityContext"]
    assert podman("exec", container, "id", "-u").stdout.strip() == str(context["runAsUser"])
    assert podman("exec", container, "id", "-g").stdout.strip() == str(context["runAsGroup"])
    inspected = json.loads(podman("inspect", container).stdout)[0]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    written = podman("exec", container, "touch", "/app/written", check=False)
    assert written.returncode != 0
    assert "Read-only file system" in written.stderr
    podman("exec", container, "touch", "/tmp/written")  # the tmp emptyDir
    status = dict(
        line.split(":\t", 1) for line in podman("exec", container, "cat", "/proc/1/status").stdout.splitlines()
    )
    assert status["Uid"].split() == [str(context["runAsUser"])] * 4  # gunicorn, pid 1
    assert int(status["CapEff"], 16) == 0  # capabilities: drop ALL
    assert int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"  # allowPrivilegeEscalation: false
    assert status["Seccomp"].strip() == "2"  # a filter: podman's default profile for RuntimeDefault


def test_the_limits_are_honoured(answering: Played) -> None:
    limits = pod_containers(answering.deployment)[0]["resources"]["limits"]
    assert (limits["memory"], limits["cpu"]) == ("512Mi", "1")
    host = json.loads(podman("inspect", answering.container).stdout)[0]["HostConfig"]
    assert host["Memory"] == 512 * 1024 * 1024
    assert host["CpuQuota"] / host["CpuPeriod"] == 1
