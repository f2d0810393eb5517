"""`python -m bench.profile_signin` (bench/README.md) runs every variant to the end: each saving
undone in turn must still sign people in, or the comparison it prints is of refusals."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.native import REPO_DIR

# A benchmark's smoke run, with test_soak_smoke in `make test`; the quick loop is for the app.
pytestmark = pytest.mark.slow


def test_every_variant_of_the_sign_in_profile_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.profile_signin", "--rounds", "1", "--per-round", "4"],
        cwd=REPO_DIR,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR / "app")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for variant in (
        "all savings",
        "undone: a new LDAP connection (TCP + StartTLS) per sign-in",
        "undone: rows written although unchanged",
        "undone: axes: clean-up, reset and AccessLog row with no failures",
        "undone: Django's session store",
        "undone: reads built by the ORM",
        "signed in, undone: the user with profile read by the ORM",
        "signed in, undone: the session read by the ORM",
        "none of the savings (before)",
        "anonymous /login/",
    ):
        assert variant in result.stdout, variant
