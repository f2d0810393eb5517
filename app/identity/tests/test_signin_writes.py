"""A returning person whose entry did not change: the sign-in writes only what changed, which is
the last-login time and the new session (one INSERT), besides the lockout's note of a guess in
flight (identity.throttle: taken off when the attempt ends)."""

from __future__ import annotations

import re
import weakref

import pytest
from django.contrib.auth.models import User, update_last_login
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.base import CreateError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devstack.testing import sign_in, sign_in_as
from identity import revalidation, sessions
from identity.accounts import note_last_login
from identity.models import GuessInFlight
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
LINUS = BY_UID["linus"]
WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN")


def statements_of_sign_in(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert sign_in_as(client, LINUS).status_code == 302
    return [query["sql"] for query in queries]


def test_a_returning_unchanged_user_writes_only_last_login_and_the_session(
    client: Client, directory: JumpCloudDirectory
) -> None:
    statements_of_sign_in(client)
    client.post("/logout/")
    writes = [sql for sql in statements_of_sign_in(client) if sql.lstrip().upper().startswith(WRITES)]
    in_flight = [sql for sql in writes if '"identity_guessinflight"' in sql]
    assert len(in_flight) == 2, writes  # this guess noted, then taken off (with any stale ones)
    rest = [sql for sql in writes if sql not in in_flight]
    assert len(rest) == 2, writes
    assert rest[0].startswith('UPDATE "auth_user" SET "last_login"'), writes
    assert rest[1].startswith('INSERT INTO "django_session"'), writes


def test_the_failures_of_the_name_typed_are_read_once(client: Client, directory: JumpCloudDirectory) -> None:
    # identity.throttle's two budgets (name + address, name alone) in one read, which is also
    # django-axes' lockout check, then checked again by the INSERT that notes the guess; the entry's
    # own name is the name typed, so its budget is not read again after the search.
    statements_of_sign_in(client)
    client.post("/logout/")
    reads = [sql for sql in statements_of_sign_in(client) if 'FROM "axes_accessattempt"' in sql]
    assert [sql.split(None, 1)[0] for sql in reads] == ["SELECT", "INSERT"], reads


def test_the_profile_of_a_returning_unchanged_user_is_read_once(client: Client, directory: JumpCloudDirectory) -> None:
    # One SELECT finds the user and their profile by stable id and compares them; the DN is the one
    # stored, so there is no separate look for the DN the person was last seen at.
    statements_of_sign_in(client)
    client.post("/logout/")
    reads = [sql for sql in statements_of_sign_in(client) if 'FROM "identity_directoryprofile"' in sql]
    assert len(reads) == 1, reads


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_notes_its_guess_in_one_statement_then_writes_in_one_transaction(
    client: Client, directory: JumpCloudDirectory
) -> None:
    # The guess noted as it starts, by one INSERT: on SQLite outside any transaction (a write
    # statement holds the one write lock only while it runs; under load, sign-ins waited for that
    # lock), on PostgreSQL in a transaction holding a lock on the name. Then, in one transaction,
    # the guess settled, last_login and the session.
    statements_of_sign_in(client)
    client.post("/logout/")
    statements = statements_of_sign_in(client)
    begins = [index for index, sql in enumerate(statements) if sql.startswith("BEGIN")]
    assert len(begins) == (1 if connection.vendor == "sqlite" else 2), statements
    [noted] = [index for index, sql in enumerate(statements) if sql.startswith('INSERT INTO "identity_guessinflight"')]
    assert noted < begins[-1], statements
    last = statements[begins[-1] :]
    writes = [
        'DELETE FROM "identity_guessinflight"',
        'UPDATE "auth_user" SET "last_login"',
        'INSERT INTO "django_session"',
    ]
    # In this order: the guess settled (on PostgreSQL under the lock on the name) before the
    # user's row is written, as with Django's own last_login receiver.
    found = [[i for i, sql in enumerate(last) if sql.startswith(write)] for write in writes]
    assert all(found), (writes, statements)
    firsts = [places[0] for places in found]
    assert firsts == sorted(firsts), statements


def test_the_first_page_view_after_a_sign_in_writes_nothing(client: Client, directory: JumpCloudDirectory) -> None:
    sign_in_as(client, LINUS)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/profile/").status_code == 200
    assert [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)] == []
    # The session; the user with their profile (every page of a directory user shows it). Each by
    # its key, and neither built by the ORM (identity.reads: building cost more than the answer).
    tables = [re.findall(r'(?:FROM|JOIN) "(\w+)"', q["sql"]) for q in queries]
    assert tables == [["django_session"], ["auth_user", "identity_directoryprofile"]], tables


def test_a_session_key_already_taken_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = sessions.SessionStore()
    taken["who"] = "first"
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))
    store = sessions.SessionStore()
    store.create()
    store["who"] = "second"
    store.save()
    assert store.session_key == "k" * 32
    assert sessions.SessionStore(taken.session_key)["who"] == "first"
    assert sessions.SessionStore("k" * 32)["who"] == "second"


def test_must_create_still_refuses_a_taken_key() -> None:
    taken = sessions.SessionStore()
    taken.save()
    again = sessions.SessionStore(taken.session_key)
    again["x"] = 1
    with pytest.raises(CreateError):
        again.save(must_create=True)


def test_a_session_saved_again_unchanged_writes_nothing_and_changed_writes_the_change() -> None:
    store = sessions.SessionStore()
    store["roles"] = ["member"]
    store.save()
    with CaptureQueriesContext(connection) as queries:
        store.save()  # as SessionMiddleware does after the sign-in saved it
    assert len(queries) == 0
    store["roles"].append("staff")  # changed in place, then marked, as Django's docs ask
    store.modified = True
    store.save()
    assert sessions.SessionStore(store.session_key)["roles"] == ["member", "staff"]


def test_an_error_inside_the_sign_in_transaction_leaves_no_guess_in_flight(
    directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guess is settled inside the sign-in's transaction; a failure after it rolls that back,
    # and a guess left in flight would count against linus for a minute (429 "too many at once").
    def fail(request: object) -> None:
        raise RuntimeError("anything failing in the sign-in's transaction: a lock timeout, a lost connection")

    monkeypatch.setattr(revalidation, "mark_checked", fail)
    failing = Client(raise_request_exception=False)
    for _ in range(3):
        assert sign_in(failing, "linus", LINUS.password).status_code == 500
    assert list(GuessInFlight.objects.values_list("username", flat=True)) == []
    monkeypatch.undo()
    assert sign_in(Client(), "linus", LINUS.password).status_code == 302


def test_last_login_is_written_by_one_statement_not_by_djangos_receiver(
    client: Client, directory: JumpCloudDirectory
) -> None:
    # (lookup key, receiver or a weak reference to it, is_async): Django's Signal.receivers
    held = [entry[1] for entry in user_logged_in.receivers]
    receivers = [ref() if isinstance(ref, weakref.ReferenceType) else ref for ref in held]
    assert note_last_login in receivers
    assert update_last_login not in receivers
    before = timezone.now()
    sign_in_as(client, LINUS)
    user = User.objects.get(username=LINUS.uid)
    assert user.last_login is not None
    assert before <= user.last_login <= timezone.now()
