"""Django's database sessions (the ``django_session`` rows), read and written by SQL written here.

- **One write per new session.** Django's ``create()`` (which ``login()`` calls through
  ``cycle_key()``) draws a key, checks that no session holds it (a SELECT), inserts an empty row
  (an INSERT in a transaction), and the response then writes the data (an UPDATE in another).
  Here the key is drawn at ``create()`` and the row is inserted once, with its data, when the
  session is saved. A key already taken (32 random characters of 36: never seen in practice)
  inserts nothing (``ON CONFLICT DO NOTHING``, which SQLite and PostgreSQL both read) and another
  key is drawn, so two sessions never share a row, and no savepoint is needed for it.
- **No ORM on the path of every page view.** The read is the ORM's own query (the row by key,
  not expired) without its 0.25 ms of query building; see ``identity.reads``.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import connections, router
from django.utils import timezone
from django.utils.crypto import get_random_string


class SessionStore(db.SessionStore):
    """``SESSION_ENGINE = "identity.sessions"``: the rows are Django's own (``django_session``)."""

    _unsaved_key = False
    _saved: tuple[str | None, dict[str, Any]] | None = None  # key and data as this object last wrote them

    def load(self) -> dict[str, Any]:
        """The session's data, or ``{}`` (and no key) when no unexpired row holds the key."""
        connection = connections[router.db_for_read(self.model)]
        table, q = self._names(connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {q('session_data')} FROM {table} "  # noqa: S608 - names from _meta
                f"WHERE {q('session_key')} = %s AND {q('expire_date')} > %s",
                [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        data: dict[str, Any] = self.decode(row[0])
        return data

    def create(self) -> None:
        self._session_key = get_random_string(32, VALID_KEY_CHARS)
        self.modified = True
        self._unsaved_key = True

    def save(self, must_create: bool = False) -> None:
        """Write the session: an INSERT for a new key (``CreateError`` when the key is taken, with
        ``must_create``), else an UPDATE (``UpdateError`` when the row is gone: it was signed
        out or expired meanwhile, which Django's SessionMiddleware answers)."""
        if self.session_key is None:
            self.create()
        data = getattr(self, "_session_cache", None)  # None: not read, so not changed, this request
        if not must_create and data is not None and self._saved == (self.session_key, data):
            return  # written as it is already (the sign-in saves inside its transaction)
        if not self._unsaved_key:
            self._write(insert=must_create)
        else:
            while True:
                try:
                    self._write(insert=True)
                except CreateError:
                    self._session_key = get_random_string(32, VALID_KEY_CHARS)
                    continue
                self._unsaved_key = False
                break
        # A deep copy: a value changed in place after this save (then marked modified) must differ.
        self._saved = (self.session_key, copy.deepcopy(getattr(self, "_session_cache", {})))

    def _write(self, *, insert: bool) -> None:
        connection = connections[router.db_for_write(self.model)]
        table, q = self._names(connection)
        values = [
            self.encode(self._get_session(no_load=insert)),  # type: ignore[attr-defined]  # as Django's save()
            connection.ops.adapt_datetimefield_value(self.get_expiry_date()),
            self.session_key,
        ]
        with connection.cursor() as cursor:
            if insert:
                cursor.execute(
                    f"INSERT INTO {table} ({q('session_data')}, {q('expire_date')}, {q('session_key')}) "  # noqa: S608
                    f"VALUES (%s, %s, %s) ON CONFLICT ({q('session_key')}) DO NOTHING",
                    values,
                )
            else:
                cursor.execute(
                    f"UPDATE {table} SET {q('session_data')} = %s, {q('expire_date')} = %s "  # noqa: S608
                    f"WHERE {q('session_key')} = %s",
                    values,
                )
            if cursor.rowcount != 1:
                raise CreateError if insert else UpdateError

    def _names(self, connection: Any) -> tuple[str, Any]:
        """The session table's name, quoted, and the database's ``quote_name``."""
        q = connection.ops.quote_name
        return q(self.model._meta.db_table), q
