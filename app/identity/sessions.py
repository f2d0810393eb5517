"""Django's database sessions, with a new session written in one statement instead of three.

Django's ``create()`` (which ``login()`` calls through ``cycle_key()``) draws a key, checks that no
session holds it (a SELECT), inserts an empty row (an INSERT in a transaction), and the response
then writes the data (an UPDATE in another). Here the key is drawn at ``create()`` and the row is
inserted once, with its data, when the session is saved: a sign-in writes the session once. A key
already taken (32 random characters of 36: never seen in practice) fails the INSERT on the primary
key and another key is drawn, so two sessions can never share a row.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.utils.crypto import get_random_string


class SessionStore(db.SessionStore):
    """``SESSION_ENGINE = "identity.sessions"``: the rows are Django's own (``django_session``)."""

    _unsaved_key = False
    _saved: tuple[str | None, dict[str, Any]] | None = None  # key and data as this object last wrote them

    def create(self) -> None:
        self._session_key = get_random_string(32, VALID_KEY_CHARS)
        self.modified = True
        self._unsaved_key = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
        data = getattr(self, "_session_cache", None)  # None: not read, so not changed, this request
        if not must_create and data is not None and self._saved == (self.session_key, data):
            return  # written as it is already (the sign-in saves inside its transaction)
        if not self._unsaved_key:
            super().save(must_create=must_create)
        else:
            while True:
                try:
                    super().save(must_create=True)
                except CreateError:
                    self._session_key = get_random_string(32, VALID_KEY_CHARS)
                    continue
                self._unsaved_key = False
                break
        # A deep copy: a value changed in place after this save (then marked modified) must differ.
        self._saved = (self.session_key, copy.deepcopy(getattr(self, "_session_cache", {})))
