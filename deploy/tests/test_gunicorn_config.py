"""deploy/gunicorn.conf.py as gunicorn reads it: no control socket unless the stack names one.

gunicorn's default control socket is ~/.gunicorn/gunicorn.ctl. In the image that is the
root-owned /app ("Control server error: Permission denied" at every start); natively, every stack
of one user shared the one socket, and one stack's shutdown deleted another's.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from gunicorn.config import Config

from devstack.native import REPO_DIR

CONFIG_FILE = REPO_DIR / "deploy/gunicorn.conf.py"


def gunicorn_config(monkeypatch: pytest.MonkeyPatch, **environment: str) -> Config:
    """The settings gunicorn takes from the file: its module-level names that are settings."""
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = Config()
    for name, value in runpy.run_path(str(CONFIG_FILE)).items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_no_control_socket_unless_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch)
    assert config.control_socket_disable is True


def test_a_named_control_socket_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    socket_path = str(tmp_path / "gunicorn.ctl")
    config = gunicorn_config(monkeypatch, GUNICORN_CONTROL_SOCKET=socket_path)
    assert config.control_socket_disable is False
    assert config.control_socket == socket_path
