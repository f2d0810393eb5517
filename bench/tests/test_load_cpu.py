"""bench.run.load's server CPU when a gunicorn worker is replaced during the load: the replaced
worker's CPU neither vanishes nor turns the figure negative (review of 2026-11-29: a worker killed
0.25 s into a load of 96 sign-ins gave -3.44 ms a sign-in, which passed goal 1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from bench.run import STACK_ENV, directory_sign_in, load, server_pids
from devstack.native import NativeStack

pytestmark = pytest.mark.stack


def worker_without_the_client(stack: NativeStack, workers: list[int]) -> int:
    """The worker holding no connection from a client (at c=1 one worker has the one connection)."""
    sockets = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{stack.app_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    busy = {int(pid) for pid in re.findall(r"pid=(\d+)", sockets)}
    idle = [pid for pid in workers if pid not in busy]
    assert idle, f"every worker holds a client connection: {sockets}"
    return idle[0]


def test_a_worker_killed_during_a_load_still_counts(tmp_path: Path) -> None:
    stack = NativeStack(tmp_path / "run")
    stack.up(extra_env=STACK_ENV)
    try:
        load(stack, 2, 5, directory_sign_in)  # both workers warm
        steady = load(stack, 1, 40, directory_sign_in)["cpu_ms"]
        _, workers, _ = server_pids(stack)
        killed: list[int] = []

        def kill_the_idle_worker() -> None:
            victim = worker_without_the_client(stack, workers)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        def soon_after_the_start() -> None:
            threading.Timer(0.2, kill_the_idle_worker).start()

        replaced = load(stack, 1, 60, directory_sign_in, prepared=soon_after_the_start)
        _, now, _ = server_pids(stack)
    finally:
        stack.down()
    assert killed, "no worker was killed"
    assert killed[0] not in now  # it was replaced during the load
    # The server spent at least the sign-ins' CPU (and a new worker's start on top).
    assert replaced["cpu_ms"] >= 0.8 * steady, (replaced, steady)
