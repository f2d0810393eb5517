"""A short `make soak` (24 s instead of 120): the fault machinery and the judge still work.

It proves behaviour (no 5xx, right decisions, no lost session, recovery), not speed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_a_short_soak_through_directory_faults_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak"],
        env={**os.environ, "SOAK_SECONDS": "24", "SOAK_PAGE_P99_BOUND": "none"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "soak: passed" in result.stdout
    for fault in ("kill", "restart", "freeze", "thaw"):
        assert f"directory: {fault}" in result.stdout
    assert "directory unavailable (while away)" in result.stdout
    assert "page views while the directory was frozen:" in result.stdout
    assert "guesses that reached the directory for one key" in result.stdout
