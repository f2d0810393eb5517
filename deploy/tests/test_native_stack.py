"""`make up` without Docker: deploy/native.sh starts, answers, refuses a second copy, and stops clean."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
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


def command_lines() -> dict[int, str]:
    """Every process's command line now, its arguments joined by spaces, by pid."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # exited meanwhile
            found[int(cmdline.parent.name)] = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return found


def our_processes(run_dir: Path) -> list[str]:
    return [
        text
        for text in command_lines().values()
        if str(run_dir) in text and ("slapd" in text or "ldap_seed" in text or "gunicorn" in text)
    ]


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


# A stand-in for the virtualenv's python: `-m ldap_seed serve` first spends 1.5 s as a process
# whose command line does not say "ldap_seed serve" (as between fork and exec, made long), then
# runs the directory; or, with DIRECTORY_FAILS set, says why it cannot and exits; or, with
# DIRECTORY_HANGS set, never gets ready.
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
  [[ -n ${DIRECTORY_HANGS:-} ]] && exec -a "still starting $*" sleep 600
fi
exec PYTHON "$@"
"""


def slow_to_exec_python(folder: Path) -> Path:
    wrapper = folder / "python"
    wrapper.write_text(SLOW_TO_EXEC.replace("PYTHON", str(REPO_DIR / ".venv/bin/python")))
    wrapper.chmod(0o755)
    return wrapper


def stop_what_is_left(native: NativeStack) -> None:
    """down, then SIGKILL to anything still running with the test's folder on its command line:
    the stack's processes, and the stand-in python (in the folder beside the stack's) while it
    hides its arguments from `down`, when the script under test is wrong."""
    native.down()
    for pid, text in command_lines().items():
        if str(native.run_dir.parent) in text:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


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
        stop_what_is_left(native)
    assert our_processes(native.run_dir) == []


def test_an_earlier_runs_ready_line_does_not_count(tmp_path: Path) -> None:
    """`make down`, then `make up` in the same folder: the log still says "directory ready" from
    the last run until the new directory writes its own."""
    native = NativeStack(tmp_path / "run")
    native.run_dir.mkdir(parents=True)
    (native.run_dir / "ldap.log").write_text("ldap_seed: directory ready on ldap://127.0.0.1:1 (StartTLS)\n")
    python = slow_to_exec_python(tmp_path)
    try:
        result = native.run("up", extra_env={"PYTHON": str(python)})
        assert result.returncode == 0, result.stderr
        assert native.browser().request("GET", "/healthz").status == 200
    finally:
        stop_what_is_left(native)


def test_ps_reports_a_stack_whose_folder_has_a_colon(tmp_path: Path) -> None:
    """`ps` split "name:pid file:pattern" on colons, so a RUN_DIR with one in it was reported
    stopped while it ran."""
    native = NativeStack(tmp_path / "stack:2")
    try:
        native.up()
        result = native.run("ps")
    finally:
        stop_what_is_left(native)
    assert result.returncode == 0, result.stderr
    assert "app: running (pid " in result.stdout
    assert "directory: running (pid " in result.stdout


def test_the_last_runs_logs_are_kept_when_a_new_run_starts(tmp_path: Path) -> None:
    """After a crash, `make up` again must not wipe the crash's log: each start keeps the last
    run's log as NAME.1 (a new user lost a crashed app's log this way)."""
    native = NativeStack(tmp_path / "run")
    native.run_dir.mkdir(parents=True)
    (native.run_dir / "app.log").write_text("the crashed app's last words\n")
    (native.run_dir / "ldap.log").write_text("the directory's last words\n")
    try:
        native.up()
        assert (native.run_dir / "app.log.1").read_text() == "the crashed app's last words\n"
        assert (native.run_dir / "ldap.log.1").read_text() == "the directory's last words\n"
        assert "directory ready" in (native.run_dir / "ldap.log").read_text()
        assert "last words" not in (native.run_dir / "app.log").read_text()
    finally:
        stop_what_is_left(native)


def test_a_second_up_while_the_first_is_still_starting_waits_for_it(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    python = slow_to_exec_python(tmp_path)
    env = {**os.environ, "RUN_DIR": str(native.run_dir), "APP_PORT": str(native.app_port),
           "LDAP_PORT": str(native.ldap_port), "LDAPS_PORT": str(native.ldaps_port), "PYTHON": str(python)}  # fmt: skip
    first = subprocess.Popen([str(REPO_DIR / "deploy/native.sh"), "up"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not (native.run_dir / "ldap.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = native.run("up", extra_env={"PYTHON": str(python)})
        first_out, _ = first.communicate(timeout=60)
        assert "directory already running" in second.stdout
        assert 0 in (first.returncode, second.returncode), (first_out, second.stdout, second.stderr)
        assert "migrations failed" not in second.stderr
        assert native.browser().request("GET", "/healthz").status == 200
    finally:
        first.kill()
        stop_what_is_left(native)


def test_a_directory_that_exits_at_start_is_reported_with_its_words(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    python = slow_to_exec_python(tmp_path)
    try:
        result = native.run("up", extra_env={"PYTHON": str(python), "DIRECTORY_FAILS": "seed rejected: line 3"})
    finally:
        stop_what_is_left(native)
    assert result.returncode == 1
    assert "the directory did not start" in result.stderr
    assert "ldap_seed: seed rejected: line 3" in result.stderr
    assert "directory ready" not in result.stdout


def test_a_directory_never_ready_is_stopped_and_reported(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    python = slow_to_exec_python(tmp_path)
    try:
        result = native.run("up", extra_env={"PYTHON": str(python), "DIRECTORY_HANGS": "1", "START_SECONDS": "4"})
        # Stopped by the failed up ("still starting -m ldap_seed serve ..."), not left for the
        # next up to find "already running".
        left = our_processes(native.run_dir)
    finally:
        stop_what_is_left(native)
    assert result.returncode == 1
    assert "the directory did not start (or not within 4 s)" in result.stderr
    assert left == []


def test_stale_pid_files_naming_another_stacks_processes_are_not_ours(stack: NativeStack, tmp_path: Path) -> None:
    """A stack's pid files outlive a crash; the pids may then belong to another stack's directory
    and app. Neither `ps` nor `down` of the first stack may take them for its own."""
    other = NativeStack(tmp_path / "run")
    other.run_dir.mkdir(parents=True)
    for name in ("app.pid", "ldap.pid"):
        (other.run_dir / name).write_text((stack.run_dir / name).read_text())
    assert other.run("ps").stdout.split("\n")[:2] == ["app: stopped", "directory: stopped"]
    result = other.run("down")
    assert result.returncode == 0, result.stderr
    assert "stopped" not in result.stdout
    assert stack.browser().request("GET", "/healthz").status == 200
    assert stack.browser().sign_in(BY_UID["ada"].uid, BY_UID["ada"].password).status == 302


def test_a_second_stack_in_the_same_folder_is_refused(stack: NativeStack) -> None:
    """Other ports, the same RUN_DIR: its `up` would find the first stack and say "Open" a URL where
    nothing answers, and its `down` would stop the first stack."""
    second = NativeStack(stack.run_dir)
    for command in ("up", "down"):
        result = second.run(command)
        assert result.returncode == 1, (command, result.stdout)
        assert f"the stack in {stack.run_dir}/ runs on ports {stack.app_port}, {stack.ldap_port}" in result.stderr
    assert "needs its own RUN_DIR as well as its own ports" in second.run("up").stderr
    assert stack.browser().request("GET", "/healthz").status == 200


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


def test_another_spelling_of_the_folder_is_the_same_stack(stack: NativeStack) -> None:
    """`make down RUN_DIR=/full/path` for a stack started as `RUN_DIR=.run-x` (or `./x`, `x/`)."""
    spelled = os.path.relpath(stack.run_dir, REPO_DIR) + "/./"
    same = NativeStack(Path(spelled), stack.app_port, stack.ldap_port, stack.ldaps_port)
    assert same.run("ps").stdout.split("\n")[:2] == [
        f"app: running (pid {(stack.run_dir / 'app.pid').read_text().strip()})",
        f"directory: running (pid {(stack.run_dir / 'ldap.pid').read_text().strip()})",
    ]


def test_a_stale_app_pid_naming_a_live_process_does_not_stop_up(tmp_path: Path) -> None:
    """gunicorn refuses to start beside a pid file that names a live process; one that is not
    ours is stale, and `up` goes ahead."""
    native = NativeStack(tmp_path / "run")
    native.run_dir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "600"])
    (native.run_dir / "app.pid").write_text(str(bystander.pid))
    try:
        result = native.run("up")
        assert result.returncode == 0, result.stderr
        assert bystander.poll() is None
    finally:
        native.down()
        bystander.kill()
        bystander.wait()


def test_a_failed_up_stops_the_directory_it_started(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "run")
    try:
        result = native.run("up", extra_env={"AXES_FAILURE_LIMIT": "many"})  # the settings refuse this
        left = our_processes(native.run_dir)
    finally:
        stop_what_is_left(native)
    assert result.returncode == 1
    assert "migrations failed" in result.stderr
    assert "directory ready" in result.stdout
    assert left == []


def test_a_new_seed_for_a_running_directory_says_to_stop_it_first(stack: NativeStack, tmp_path: Path) -> None:
    result = stack.run("up", extra_env={"SEED_LDIF_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "the directory is running" in result.stderr
    assert "make down first" in result.stderr


def test_a_folder_with_white_space_is_refused_before_anything_starts(tmp_path: Path) -> None:
    native = NativeStack(tmp_path / "a run")
    result = native.run("up")
    assert result.returncode == 1
    assert "RUN_DIR must not contain white space" in result.stderr
    assert our_processes(native.run_dir) == []


@pytest.mark.parametrize(
    ("ports", "said"),
    [
        ({"APP_PORT": "3389", "LDAP_PORT": "3389"}, "need a port each, not 3389, 3389 and"),
        ({"LDAP_PORT": "3636", "LDAPS_PORT": "3636"}, "need a port each, not"),
        ({"LDAPS_PORT": "03636", "LDAP_PORT": "3636"}, "need a port each, not"),  # one port, two spellings
        ({"APP_PORT": "0"}, "port numbers from 1 to 65535, not '0'"),
        ({"LDAP_PORT": "65536"}, "port numbers from 1 to 65535, not '65536'"),
        ({"LDAPS_PORT": "ldaps"}, "port numbers from 1 to 65535, not 'ldaps'"),
        ({"APP_PORT": "80 81"}, "port numbers from 1 to 65535, not '80 81'"),
        ({"APP_PORT": ""}, "port numbers from 1 to 65535, not ''"),  # set but empty: not the default
        ({"LDAP_PORT": "٣٣٨٩"}, "port numbers from 1 to 65535, not '٣٣٨٩'"),
    ],
)
def test_ports_it_cannot_use_are_refused_before_anything_starts(
    tmp_path: Path, ports: dict[str, str], said: str
) -> None:
    native = NativeStack(tmp_path / "run")
    try:
        result = native.run("up", extra_env=ports)
        made_the_folder = native.run_dir.exists()
    finally:
        stop_what_is_left(native)  # a script that let them by may have started something
    assert result.returncode == 1
    assert said in result.stderr
    assert not made_the_folder
