"""The Makefile passes APP_PORT, LDAP_PORT and LDAPS_PORT on only when they are given: each stack
has its own defaults (native.sh and compose: 8000, 3389, 3636; test-containers: 18080, 18389,
18636). The Makefile used to export APP_PORT=8000 to every recipe, so `make test-containers`
published its app on 8000, on top of a developer's `make up` stack."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devstack.native import REPO_DIR

PORTS = ("APP_PORT", "LDAP_PORT", "LDAPS_PORT")


def _recipe_sees(tmp_path: Path, *assignments: str, env: dict[str, str] | None = None) -> str:
    """What a recipe of the real Makefile finds in its environment, and the URL `make up` prints."""
    probe = tmp_path / "probe.mk"
    names = " ".join(f"{name}=$${{{name}-unset}}" for name in PORTS)
    probe.write_text(f"probe-ports:\n\t@echo 'url=$(APP_URL)' {names}\n")
    # Nor what a make running this suite passes down (`make test APP_PORT=8100` puts it in MAKEFLAGS).
    inherited = {*PORTS, "MAKEFLAGS", "MAKEOVERRIDES", "MFLAGS", "MAKELEVEL"}
    clean = {name: value for name, value in os.environ.items() if name not in inherited}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", str(probe), "probe-ports", *assignments],
        cwd=REPO_DIR,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_no_port_is_passed_on_unless_given(tmp_path: Path) -> None:
    seen = _recipe_sees(tmp_path)
    assert seen == "url=http://127.0.0.1:8000 APP_PORT=unset LDAP_PORT=unset LDAPS_PORT=unset"


@pytest.mark.parametrize("given_on", ["command line", "environment"])
def test_ports_given_are_passed_on(tmp_path: Path, given_on: str) -> None:
    ports = {"APP_PORT": "8100", "LDAP_PORT": "3489", "LDAPS_PORT": "3736"}
    if given_on == "command line":
        seen = _recipe_sees(tmp_path, *(f"{name}={value}" for name, value in ports.items()))
    else:
        seen = _recipe_sees(tmp_path, env=ports)
    assert seen == "url=http://127.0.0.1:8100 APP_PORT=8100 LDAP_PORT=3489 LDAPS_PORT=3736"
