"""Two `ldap_sync` runs never overlap: the second finds the lock taken, says so and exits 0.

On PostgreSQL (`make test-postgres`) the lock is held from a connection of its own, as another
replica would hold it; on the suite's in-memory SQLite, from this process.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from identity.locks import _file_lock, advisory_key, exclusive
from identity.management.commands.ldap_sync import LOCK_NAME
from ldap_seed.directory import JumpCloudDirectory

pytestmark = pytest.mark.django_db


@contextmanager
def held_elsewhere(name: str) -> Iterator[None]:
    """Hold the lock ``name`` the way another process would."""
    if connection.vendor != "postgresql":
        with exclusive(name) as got:
            assert got
            yield
        return
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [advisory_key(name)])
        yield


def run_sync() -> str:
    out = io.StringIO()
    call_command("ldap_sync", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_second_sync_says_so_and_changes_nothing(directory: JumpCloudDirectory) -> None:
    with held_elsewhere(LOCK_NAME):
        output = run_sync()
    assert "another ldap_sync is running" in output
    assert not get_user_model().objects.exists()


def test_the_lock_is_released_after_a_sync(directory: JumpCloudDirectory) -> None:
    run_sync()
    assert get_user_model().objects.filter(username="linus").exists()
    with exclusive(LOCK_NAME) as got:
        assert got, "the first sync left the lock behind"


def test_the_advisory_key_is_a_stable_bigint() -> None:
    key = advisory_key(LOCK_NAME)
    assert key == advisory_key("identity.ldap_sync")
    assert -(2**63) <= key < 2**63
    assert key != advisory_key("something else")


def test_the_file_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3.identity.ldap_sync.lock"
    with _file_lock(path) as first:
        assert first
        with _file_lock(path) as second:
            assert not second
    with _file_lock(path) as again:
        assert again
