"""The pytest fixtures every suite shares (one home; each suite's ``conftest.py`` imports them):
a real, seeded slapd from ldap_seed's runner, Django pointed at it, and a local admin.

``directory`` is one slapd for the whole session, for tests that only read it. A test that
changes the directory or stops it takes ``own_directory``, a fresh slapd of its own.

With ``LDAP_TEST_SERVER=container`` both are the compose stack's osixia/openldap instead, started
through testcontainers (skipped, with the reason, where no Docker engine answers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from identity import breaker, ldap_client

from devstack.testing import ldap_settings_for
from ldap_seed.container import OsixiaDirectory, docker_engine_problem
from ldap_seed.directory import JumpCloudDirectory

# What a suite's ``from devstack.fixtures import *`` brings: every fixture, the autouse ones
# (their names start with "_") included.
__all__ = [
    "LOCAL_ADMIN",
    "_django_uses_directory",
    "_empty_cache",
    "directory",
    "local_admin",
    "own_directory",
    "start_directory",
]


def start_directory(state_dir: Path) -> Any:
    if os.environ.get("LDAP_TEST_SERVER", "native") == "container":
        problem = docker_engine_problem()
        if problem:
            pytest.skip(f"LDAP_TEST_SERVER=container, but {problem}")
        directory: Any = OsixiaDirectory(state_dir)
    else:
        # die_with_parent: a test run killed outright (a CI timeout, kill -9) leaves no slapd. The
        # fixtures start and resume slapd in pytest's main thread, which lives as long as the run.
        directory = JumpCloudDirectory(state_dir, ephemeral=True, die_with_parent=True)
    directory.start()
    return directory


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JumpCloudDirectory]:
    server = start_directory(tmp_path_factory.mktemp("ldap") / "shared")
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _django_uses_directory(directory: JumpCloudDirectory) -> Iterator[None]:
    with override_settings(**ldap_settings_for(directory)):
        yield


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # django-auth-ldap caches DNs and group names; no test may see another's.
    cache.clear()
    # Nor another's outage: the circuit breaker is per process.
    breaker.DIRECTORY.reset()
    # Nor another's connections: each test's first sign-in opens this thread's (ldap_client).
    ldap_client.drop_held_connections()


@pytest.fixture
def own_directory(tmp_path: Path) -> Iterator[JumpCloudDirectory]:
    """A fresh seeded slapd for this test alone, with Django pointed at it."""
    server = start_directory(tmp_path / "ldap")
    with override_settings(**ldap_settings_for(server)):
        yield server
    server.stop()


LOCAL_ADMIN = ("breakglass", "break-glass-password-1")


@pytest.fixture
def local_admin(db: None) -> tuple[str, str]:
    """A local break-glass superuser (made as createsuperuser would): its username and password."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser(LOCAL_ADMIN[0], "ops@example.com", LOCAL_ADMIN[1])
    return LOCAL_ADMIN
