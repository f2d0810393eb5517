"""Locks that hold across processes and replicas, so a job never runs twice at once.

``exclusive(name)`` is a context manager that yields True when this process got the lock named
``name`` (and holds it until the block ends) and False at once when someone else holds it; it
never waits. Where the lock lives depends on the database, because that is what every replica
shares:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) keyed by the first 8 bytes
  of the SHA-256 of ``name``, on the database of Django's default connection. PostgreSQL releases
  it by itself if the process dies, so a killed job never leaves it stuck.
- SQLite (one machine): ``flock`` on a file beside the database file, ``<db>.<name>.lock``; the
  kernel releases it when the process dies. An in-memory database has no file, and no other
  process can see it either: a lock in this process then suffices.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

_IN_PROCESS: dict[str, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()


def advisory_key(name: str) -> int:
    """A signed 64-bit integer (PostgreSQL's bigint) derived from ``name``, the same in every process."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    if connection.vendor == "postgresql":
        with _postgres_lock(name) as got:
            yield got
        return
    database = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and database and database != ":memory:" and "mode=memory" not in database:
        with _file_lock(Path(f"{database}.{name}.lock")) as got:
            yield got
        return
    with _process_lock(name) as got:
        yield got


@contextmanager
def _postgres_lock(name: str) -> Iterator[bool]:
    key = advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        row = cursor.fetchone()
    got = bool(row and row[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _process_lock(name: str) -> Iterator[bool]:
    with _IN_PROCESS_GUARD:
        lock = _IN_PROCESS.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()
