"""The suite's own promises: a clear, immediate error without a target, and evidence on failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]

BROKEN_TEST = """
from playwright.sync_api import Page, expect


def test_deliberately_broken(page: Page) -> None:
    page.set_content("<h1>Hello</h1>")
    expect(page.get_by_role("heading")).to_have_text("Goodbye", timeout=500)
"""

CONFTEST = """
import pytest

from e2e.conftest import browser_type_launch_args  # noqa: F401 - the suite's browser choice


@pytest.fixture(scope="session")
def base_url() -> None:
    return None
"""


def run_pytest(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'app'}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_jumpcloud_target_without_base_url_exits_at_once() -> None:
    started = time.monotonic()
    result = run_pytest("e2e", env={"E2E_TARGET": "jumpcloud", "E2E_BASE_URL": ""})
    assert time.monotonic() - started < 15
    assert result.returncode == 2
    assert "E2E_TARGET=jumpcloud needs E2E_BASE_URL" in result.stdout + result.stderr


def test_a_broken_expectation_leaves_a_screenshot_and_a_trace(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_broken.py").write_text(BROKEN_TEST)
    (suite / "conftest.py").write_text(CONFTEST)
    output = tmp_path / "artifacts"
    result = run_pytest(
        str(suite),
        "-c",
        os.devnull,
        "--rootdir",
        str(suite),
        "--output",
        str(output),
        "--screenshot",
        "only-on-failure",
        "--tracing",
        "retain-on-failure",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Goodbye" in result.stdout
    [failed] = list(output.iterdir())
    assert (failed / "test-failed-1.png").stat().st_size > 0
    assert (failed / "trace.zip").stat().st_size > 0
