"""`make up` without Docker: deploy/native.sh starts, answers, refuses a second copy, and stops clean."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from identity.forms import GENERIC_ERROR

from devstack.native import REPO_DIR, NativeStack, free_port
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    native = NativeStack(tmp_path_factory.mktemp("native") / "run")
    # Many refusals from one address below: this stack is about the stack, not about lockouts.
    native.up(extra_env={"AXES_FAILURE_LIMIT": "1000", "LDAP_MAX_FAILURES_PER_USER": "1000"})
    yield native
    native.down()


def our_processes(run_dir: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(run_dir) in text and ("slapd" in text or "ldap_seed" in text or "gunicorn" in text):
            found.append(text)
    return found


def test_health_answers(stack: NativeStack) -> None:
    answer = stack.browser().request("GET", "/healthz")
    assert answer.status == 200
    assert b'"status": "ok"' in answer.body


def test_ada_signs_in_through_the_form(stack: NativeStack) -> None:
    ada = BY_UID["ada"]
    answer = stack.browser().sign_in(ada.uid, ada.password)
    assert (answer.status, answer.location) == (302, "/")


def test_eve_is_refused_through_the_form(stack: NativeStack) -> None:
    eve = BY_UID["eve"]
    answer = stack.browser().sign_in(eve.uid, eve.password)
    assert answer.status == 200
    assert GENERIC_ERROR in answer.body.decode()


def test_control_socket_is_the_stacks_own(stack: NativeStack) -> None:
    # Not ~/.gunicorn/gunicorn.ctl, which every stack of one user shared and any one's shutdown removed.
    assert (stack.run_dir / "gunicorn.ctl").is_socket()
    assert "Control server error" not in (stack.run_dir / "app.log").read_text()


def test_the_images_health_probe_answers_for_the_app(stack: NativeStack) -> None:
    probe = [str(REPO_DIR / ".venv/bin/python"), str(REPO_DIR / "deploy/healthcheck.py")]
    healthy = subprocess.run(probe, env={"HEALTHCHECK_PORT": str(stack.app_port)}, capture_output=True, check=False)
    assert healthy.returncode == 0, healthy.stderr
    nothing_there = subprocess.run(probe, env={"HEALTHCHECK_PORT": str(free_port())}, capture_output=True, check=False)
    assert nothing_there.returncode == 1


def test_second_up_finds_the_first(stack: NativeStack) -> None:
    pid_before = (stack.run_dir / "app.pid").read_text()
    result = stack.run("up")
    assert result.returncode == 0, result.stderr
    assert "directory already running" in result.stdout
    assert "app already running" in result.stdout
    assert (stack.run_dir / "app.pid").read_text() == pid_before


def test_ps_reports_both(stack: NativeStack) -> None:
    assert stack.run("ps").stdout.split("\n")[:2] == [
        f"app: running (pid {(stack.run_dir / 'app.pid').read_text().strip()})",
        f"directory: running (pid {(stack.run_dir / 'ldap.pid').read_text().strip()})",
    ]


def test_port_taken_is_a_clear_message(tmp_path: Path) -> None:
    other = NativeStack(tmp_path / "run")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", other.ldap_port))
        holder.listen()
        result = other.run("up")
    assert result.returncode == 1
    assert f"port {other.ldap_port} is already in use" in result.stderr
    assert our_processes(other.run_dir) == []


def test_down_stops_exactly_what_up_started(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    native.up()
    assert len(our_processes(native.run_dir)) >= 2
    (tmp_path / "run" / "unrelated.pid").write_text("1")  # pid 1 is not ours: never touched
    result = native.down()
    assert result.returncode == 0, result.stderr
    assert "app stopped" in result.stdout
    assert "directory stopped" in result.stdout
    assert our_processes(native.run_dir) == []
    assert not (native.run_dir / "app.pid").exists()
    assert native.down().stdout == ""  # a second down has nothing to stop


# A stand-in for the virtualenv's python: `-m ldap_seed serve` first spends a while as a process
# whose command line does not say "ldap_seed serve" (as between fork and exec), then either runs
# the directory or, with DIRECTORY_FAILS set, says why it cannot and exits.
SLOW_TO_EXEC = """#!/bin/bash
if [[ $1 == -m && $2 == ldap_seed && -z ${HIDDEN_ARGS:-} ]]; then
  HIDDEN_ARGS=$(printf '%q ' "$@")
  export HIDDEN_ARGS
  exec -a starting /bin/bash "$0"
fi
if [[ -n ${HIDDEN_ARGS:-} ]]; then
  sleep 1.5
  eval "set -- $HIDDEN_ARGS"
  unset HIDDEN_ARGS
  [[ -n ${DIRECTORY_FAILS:-} ]] && { echo "ldap_seed: $DIRECTORY_FAILS" >&2; exit 1; }
fi
exec PYTHON "$@"
"""


def slow_to_exec_python(folder: Path) -> Path:
    wrapper = folder / "python"
    wrapper.write_text(SLOW_TO_EXEC.replace("PYTHON", str(REPO_DIR / ".venv/bin/python")))
    wrapper.chmod(0o755)
    return wrapper


def test_the_directory_is_ready_only_when_it_says_so(tmp_path: Path) -> None:
    """The directory's process is not yet `ldap_seed serve` for a moment after it is started:
    that moment must not pass for a directory that died (CI, 2026-11-29: migrate ran before the
    directory had written its CA certificate, "LDAP_CA_CERT_FILE names ... which does not exist")."""
    native = NativeStack(tmp_path / "run")
    python = slow_to_exec_python(tmp_path)
    try:
        result = native.run("up", extra_env={"PYTHON": str(python)})
        assert result.returncode == 0, result.stderr
        assert "directory ready" in result.stdout
        assert native.browser().request("GET", "/healthz").status == 200
    finally:
        native.down()
    assert our_processes(native.run_dir) == []


def test_a_directory_that_exits_at_start_is_reported_with_its_words(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    python = slow_to_exec_python(tmp_path)
    result = native.run("up", extra_env={"PYTHON": str(python), "DIRECTORY_FAILS": "seed rejected: line 3"})
    assert result.returncode == 1
    assert "the directory did not start" in result.stderr
    assert "ldap_seed: seed rejected: line 3" in result.stderr
    assert "directory ready" not in result.stdout
    assert our_processes(native.run_dir) == []


def test_jumpcloud_mode_without_its_env_file_says_what_to_do(tmp_path: Path) -> None:
    result = NativeStack(tmp_path / "run").run(
        "up", "jumpcloud", extra_env={"JUMPCLOUD_ENV_FILE": str(tmp_path / "none.env")}
    )
    assert result.returncode == 1
    assert f"{tmp_path}/none.env is missing: copy deploy/env/jumpcloud.env.example" in result.stderr


def test_concurrent_sign_ins_never_lock_sqlite(stack: NativeStack) -> None:
    """Several gunicorn workers writing users, groups, profiles and sessions to one SQLite file."""
    personas = [BY_UID[uid] for uid in ("ada", "grace", "linus", "ken", "eve")] * 6

    def attempt(persona: object) -> tuple[str, int]:
        assert isinstance(persona, type(BY_UID["ada"]))
        return persona.uid, stack.browser().sign_in(persona.uid, persona.password).status

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, personas))
    for uid, status in results:
        assert status == (302 if BY_UID[uid].signs_in else 200), uid
    log = (stack.run_dir / "app.log").read_text()
    assert "database is locked" not in log
    assert '" 500 ' not in log
