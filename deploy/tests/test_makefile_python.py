"""The Makefile's PYTHON: the interpreter .venv is made with (Debian's python3 on Debian, as the
image). A .venv made with another interpreter, or with one since removed, is made again; one made
with PYTHON is kept; and PYTHON names .venv's interpreter only, never the one the stack runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.native import REPO_DIR

THIS_INTERPRETER = os.path.realpath(getattr(sys, "_base_executable", sys.executable))  # outside .venv


def _venv_interpreter(folder: Path, python: str) -> subprocess.CompletedProcess[str]:
    """`make venv-interpreter` alone, in a folder holding a copy of the Makefile and a .venv."""
    shutil.copy(REPO_DIR / "Makefile", folder / "Makefile")
    return subprocess.run(
        ["make", "--no-print-directory", "venv-interpreter", f"PYTHON={python}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _venv_with_python(folder: Path, target: str) -> None:
    bin_dir = folder / ".venv/bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(target)
    (folder / ".venv/.synced").touch()


def test_a_venv_made_with_python_is_kept(tmp_path: Path) -> None:
    _venv_with_python(tmp_path, THIS_INTERPRETER)
    result = _venv_interpreter(tmp_path, THIS_INTERPRETER)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".venv/.synced").exists()
    assert "making it again" not in result.stdout


def test_a_venv_made_with_another_interpreter_is_made_again(tmp_path: Path) -> None:
    _venv_with_python(tmp_path, THIS_INTERPRETER)
    other = tmp_path / "other-python"
    other.write_text("#!/bin/sh\necho /opt/other/bin/python3\n")
    other.chmod(0o755)
    result = _venv_interpreter(tmp_path, str(other))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".venv").exists()
    assert f"made with {THIS_INTERPRETER}, not /opt/other/bin/python3" in result.stdout


def test_a_venv_whose_interpreter_is_gone_is_made_again(tmp_path: Path) -> None:
    # An older checkout's .venv whose interpreter was since removed (a pyenv version uninstalled):
    # its bin/python dangles.
    _venv_with_python(tmp_path, "/nonexistent/python3.11")
    result = _venv_interpreter(tmp_path, THIS_INTERPRETER)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".venv").exists()
    assert "made with an interpreter that is gone" in result.stdout


def test_python_on_the_command_line_does_not_reach_the_stack(tmp_path: Path) -> None:
    # make passes a command-line variable to every recipe unless told not to, and deploy/native.sh
    # runs manage.py and gunicorn with its own PYTHON: the bare interpreter would have no Django.
    (tmp_path / "run/ldap/tls").mkdir(parents=True)
    (tmp_path / "run/ldap/tls/ca.crt").touch()  # the settings ask only that the stack's CA file be there
    command = "shell -c 'import sys; print(sys.prefix)'"
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "manage",
            f"CMD={command}",
            f"PYTHON={THIS_INTERPRETER}",
            f"RUN_DIR={run_dir}",
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(REPO_DIR / ".venv")
