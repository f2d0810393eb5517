"""Browser tests: Chromium, driven by Playwright, against the app served by gunicorn.

``E2E_TARGET`` picks what is tested:

- ``local`` (default): the seeded local directory. The fixtures start the native stack
  (deploy/native.sh: slapd + gunicorn) on free ports and stop it after, unless
  ``E2E_BASE_URL`` names a running local stack (the compose one from ``make up``).
- ``jumpcloud``: a deployment pointed at a real JumpCloud. ``E2E_BASE_URL`` is required, and each
  role's credentials come from ``E2E_<ROLE>_USERNAME`` / ``E2E_<ROLE>_PASSWORD``; a scenario whose
  role is not configured is skipped with that reason.

The system Chromium (/usr/bin/chromium) is used where present, Playwright's own elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.native import NativeStack
from devstack.roles import LOCAL_ROLES
from ldap_seed.personas import BY_UID

TARGET = os.environ.get("E2E_TARGET", "local")
SYSTEM_CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class Account:
    role: str
    username: str
    password: str


def pytest_configure(config: pytest.Config) -> None:
    if TARGET not in ("local", "jumpcloud"):
        pytest.exit(f"E2E_TARGET must be local or jumpcloud, not {TARGET!r}", returncode=2)
    if TARGET == "jumpcloud" and not os.environ.get("E2E_BASE_URL"):
        pytest.exit(
            "E2E_TARGET=jumpcloud needs E2E_BASE_URL: the address of the deployment to test "
            "(for example https://django-staging.example.com). See e2e/README.md.",
            returncode=2,
        )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack | None]:
    """The native stack this session started, or None when testing one that already runs."""
    if TARGET != "local" or os.environ.get("E2E_BASE_URL"):
        yield None
        return
    stack = NativeStack(tmp_path_factory.mktemp("e2e") / "run")
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def base_url(local_stack: NativeStack | None) -> str:
    return local_stack.url if local_stack else os.environ["E2E_BASE_URL"].rstrip("/")


@pytest.fixture(scope="session")
def directory_uri(local_stack: NativeStack | None) -> str:
    """Where the local target's directory answers, for scenarios that change it."""
    if TARGET != "local":
        pytest.skip("changes the directory: local target only")
    if local_stack:
        return f"ldap://127.0.0.1:{local_stack.ldap_port}"
    return os.environ.get("E2E_LDAP_URI", "ldap://127.0.0.1:3389")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(SYSTEM_CHROMIUM).exists():
        return browser_type_launch_args
    # Debian's Chromium; as root it needs --no-sandbox, and on a closed network the background
    # services only produce refused connections.
    return {
        **browser_type_launch_args,
        "executable_path": SYSTEM_CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def account(role: str) -> Account:
    if TARGET == "local":
        persona = BY_UID[LOCAL_ROLES[role]]
        return Account(role, persona.uid, persona.password)
    prefix = f"E2E_{role.upper()}"
    username, password = os.environ.get(f"{prefix}_USERNAME"), os.environ.get(f"{prefix}_PASSWORD")
    if not username or not password:
        pytest.skip(f"no {role} account configured: set {prefix}_USERNAME and {prefix}_PASSWORD")
    return Account(role, username, password)


def seed_attributes(role: str) -> dict[str, str]:
    """The LDAP attributes the local seed gives the role's persona (those with a value), from
    ldap_seed/personas.csv; the local target only."""
    assert TARGET == "local", "what a JumpCloud account holds is known only for the local seed"
    return dict(BY_UID[LOCAL_ROLES[role]].attributes)


def display_name(role: str) -> str | None:
    """The name the home page greets with, where the suite knows it (the local seed)."""
    if TARGET != "local":
        return os.environ.get(f"E2E_{role.upper()}_DISPLAY_NAME")
    persona = BY_UID[LOCAL_ROLES[role]]
    return persona.display_name if persona.signs_in else None  # only who signs in reaches the home page


@pytest.fixture
def superuser() -> Account:
    return account("superuser")


@pytest.fixture
def staff() -> Account:
    return account("staff")


@pytest.fixture
def member() -> Account:
    return account("member")


@pytest.fixture
def inactive() -> Account:
    return account("inactive")


@pytest.fixture
def outsider() -> Account:
    return account("outsider")


@pytest.fixture
def locked() -> Account:
    """In the app's groups, but locked in JumpCloud: the directory refuses the bind."""
    return account("locked")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.browser)
