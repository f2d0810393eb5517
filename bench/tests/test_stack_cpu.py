"""CPU per sign-in (make bench's loads, the scaled soak's parts of the stack) counts every process
of a tree, including the gunicorn workers that exited on the way (GUNICORN_MAX_REQUESTS, a crash)
and were reaped by their master."""

from __future__ import annotations

import subprocess
import sys

from bench.cpu import processes, tree_cpu_seconds

BURN = 0.4  # CPU seconds the child spends before it exits
PARENT = f"""
import os, sys, time
pid = os.fork()
if pid == 0:
    end = time.process_time() + {BURN}
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("reaped", flush=True)
sys.stdin.read()
"""


def test_the_cpu_of_an_exited_child_still_counts() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "reaped"
        assert tree_cpu_seconds(parent.pid, processes()) >= BURN * 0.9
    finally:
        parent.communicate("", timeout=10)
