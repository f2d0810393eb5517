"""How many guesses reach the directory, whatever arrives at once.

django-axes counts a failure after the directory has answered it, so 64 simultaneous wrong
passwords all passed its check and all reached the directory. Here a guess is counted when it
*starts*: before a sign-in goes on to the directory, one serialized step reads the failures
django-axes has recorded and the guesses still in flight (``GuessInFlight``), refuses if a budget
would be overrun, and otherwise notes this guess as in flight. When the attempt ends, the same
step takes it off (identity.lockout's handler) while django-axes records what really happened: a
failure, a success (which resets the pair), or nothing at all for an outage.

Two budgets, both over django-axes' cool-off (``AXES_COOLOFF_MINUTES``):
- ``AXES_FAILURE_LIMIT`` per username + client address, as django-axes keys it;
- ``LDAP_MAX_FAILURES_PER_USER`` per username from all addresses together. JumpCloud may lock
  (disable or remove) a user after repeated failed binds, and that user loses their laptop and
  mail with it: this app must never be the reason. The price: anyone can keep one username
  locked out of this app by guessing; an admin lifts it (README: Security).
A sign-in that would overrun a budget only counting the guesses in flight is refused as "too many
at once" (try again in a moment), not locked.

And one name is never tried at all: the service account's, whose guesses would be binds of the
account every sign-in depends on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from identity import decisions, dn
from identity.accounts import ENTRY_USERNAME, canonical_username, lockout_key
from identity.directory_settings import current
from identity.models import GuessInFlight

log = logging.getLogger(__name__)

COUNTED = "identity_guess_in_flight"
# The failures the lockout counted for this attempt (identity.lockout skips django-axes' reset
# after a success when there were none).
FAILURES_COUNTED = "identity_lockout_failures"
SETTLED_AT_LOGIN = "identity_guess_settled_at_login"
STALE = timedelta(minutes=1)


class RefusedBeforeTheDirectory(PermissionDenied):
    """Stops Django's backend loop: no other backend, and so no directory, sees this attempt."""


def service_account_uid() -> str:
    """The ``uid`` in LDAP_BIND_DN (the value of its first RDN), as a username would be typed."""
    return canonical_username(dn.first_value(current().bind_dn) or "")


def refuse_service_account(request: HttpRequest, username: str | None) -> None:
    """The form never binds as the service account: refused at once, with its own reason."""
    uid = service_account_uid()
    if uid and username is not None and canonical_username(username) == uid:
        decisions.record(request, decisions.SERVICE_ACCOUNT)
        raise RefusedBeforeTheDirectory("the service account does not sign in through the form")


def refuse_service_account_entry(request: HttpRequest | None, entry_dn: str) -> None:
    """After the user search: the entry found is the service account's (reached by a second
    ``uid`` value, say): refused before its bind, as its own name is (``refuse_service_account``)."""
    if request is not None and dn.same_dn(entry_dn, current().bind_dn):
        decisions.record(request, decisions.SERVICE_ACCOUNT)
        raise RefusedBeforeTheDirectory("the service account does not sign in through the form")


@contextmanager
def serialized(username: str, *, savepoint: bool = True) -> Iterator[None]:
    """One guess at a time per username, across threads and processes. SQLite: the settings open
    every transaction with BEGIN IMMEDIATE, which takes the database's write lock. PostgreSQL: a
    transaction-scoped advisory lock on the name. ``savepoint=False``: inside an outer transaction,
    no savepoint of its own (for blocks that raise nothing on purpose; the budget checks do)."""
    with transaction.atomic(savepoint=savepoint):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"identity.guess:{username}"])
        yield


def count_guess_in_advance(request: HttpRequest, credentials: dict[str, Any]) -> None:
    """Refuse when a budget is spent, or would be by the guesses in flight; otherwise note this one.

    This read is also django-axes' lockout check of the name and address
    (``identity.lockout.DirectoryAwareAxesHandler.is_locked``): a spent ``AXES_FAILURE_LIMIT``
    refuses as locked out, with django-axes' 429 page.

    Two statements: one read of the four numbers (failures and guesses in flight, of the name from
    this address and from all), which refuses a spent budget without writing; then the guess noted
    by one INSERT that re-checks both budgets in its own WHERE. On SQLite that statement is its own
    serialized step (a write statement holds the database's write lock from its start to its end,
    and nothing else runs in between); on PostgreSQL it runs under ``serialized``'s lock on the name.
    A guess whose process died on the way never settles: after ``STALE`` it is not in flight (the
    next guess to settle deletes it)."""
    username = get_client_username(request, credentials)
    address = request.axes_ip_address  # type: ignore[attr-defined]  # set by django-axes' check just before
    budgets = _Budgets(username, address, timezone.now())
    counts = budgets.read()
    # A success must reset the pair's failures (identity.lockout skips the reset when none counted).
    setattr(request, FAILURES_COUNTED, counts.pair_failures)
    _refuse_if_spent(request, counts)
    if connection.vendor == "postgresql":
        with serialized(username):
            guess_pk = budgets.note_guess()
    else:
        guess_pk = budgets.note_guess()
    if guess_pk is None:
        # Between the read and the INSERT, other guesses of the name went on their way (or failed).
        _refuse_if_spent(request, budgets.read())
        _refuse(request, decisions.TOO_MANY_AT_ONCE)
    setattr(request, COUNTED, (username, guess_pk))


@dataclass(frozen=True)
class _Counts:
    pair_failures: int
    pair_in_flight: int
    name_failures: int
    name_in_flight: int


class _Budgets:
    """The SQL of one guess's budgets: django-axes' failures (``AccessAttempt``) over the cool-off
    and the guesses in flight (``GuessInFlight``) younger than ``STALE``, of ``username`` from
    ``address`` and from all addresses. Written by hand because the guess is noted by an INSERT
    whose WHERE holds the checks (one statement), which Django's ORM does not write."""

    def __init__(self, username: str | None, address: str | None, now: datetime) -> None:
        ops, q = connection.ops, connection.ops.quote_name
        attempts, guesses = q(AccessAttempt._meta.db_table), q(GuessInFlight._meta.db_table)
        # The address as the ORM writes it (django-axes' rows are written so): one spelling each.
        stored_address = GuessInFlight._meta.get_field("ip_address").get_db_prep_value(address, connection)
        self.row = [username, stored_address, ops.adapt_datetimefield_value(now)]
        name, by_name = _equals(q("username"), username)
        pair, by_pair = _equals(q("ip_address"), self.row[1])
        failures_since = ops.adapt_datetimefield_value(now - settings.AXES_COOLOFF_TIME)
        in_flight_since = ops.adapt_datetimefield_value(now - STALE)
        # Names quoted by the database's own quote_name; every value is a parameter.
        failures = (
            f"SELECT COALESCE(SUM({q('failures_since_start')}), 0) FROM {attempts} "  # noqa: S608
            f"WHERE {name} AND {q('attempt_time')} >= %s"
        )
        in_flight = f"SELECT COUNT(*) FROM {guesses} WHERE {name} AND {q('started_at')} >= %s"  # noqa: S608
        # (SQL, parameters) of the pair's failures and in flight, then the name's: _Counts' order.
        self.terms: list[tuple[str, list[Any]]] = [
            (f"({failures} AND {pair})", [*by_name, failures_since, *by_pair]),
            (f"({in_flight} AND {pair})", [*by_name, in_flight_since, *by_pair]),
            (f"({failures})", [*by_name, failures_since]),
            (f"({in_flight})", [*by_name, in_flight_since]),
        ]

    def read(self) -> _Counts:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(sql for sql, _ in self.terms)}",
                [value for _, params in self.terms for value in params],
            )
            row = cursor.fetchone()
        return _Counts(*(int(number) for number in row))

    def note_guess(self) -> int | None:
        """The new ``GuessInFlight``'s key, or None when either budget had no room left."""
        (pair_failures, a), (pair_in_flight, b), (name_failures, c), (name_in_flight, d) = self.terms
        q = connection.ops.quote_name
        table = q(GuessInFlight._meta.db_table)
        columns = [
            GuessInFlight._meta.get_field(name) for name in ("username", "ip_address", "started_at")
        ]  # (concrete fields: their column is their name)
        # A value in a SELECT list has no column to take its type from: PostgreSQL reads a quoted
        # one as text, which it does not store in an inet column unasked. (SQLite needs no cast, and
        # its CAST to "datetime" would make a number of the text.)
        values = ", ".join(
            "%s" if connection.vendor == "sqlite" else f"CAST(%s AS {column.db_type(connection)})" for column in columns
        )
        insert = (
            f"INSERT INTO {table} ({', '.join(q(column.name) for column in columns)}) "
            f"SELECT {values} WHERE {pair_failures} + {pair_in_flight} < %s "
            f"AND {name_failures} + {name_in_flight} < %s "
            f"RETURNING {q('id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                insert,
                [*self.row, *a, *b, settings.AXES_FAILURE_LIMIT, *c, *d, settings.LDAP_MAX_FAILURES_PER_USER],
            )
            row = cursor.fetchone()
        return int(row[0]) if row is not None else None


def _refuse_if_spent(request: HttpRequest, counts: _Counts) -> None:
    """Refuse (``RefusedBeforeTheDirectory``) when either budget is spent or would be by the
    guesses in flight: ``AXES_FAILURE_LIMIT`` for the name from this address (locked out, as
    django-axes says it), ``LDAP_MAX_FAILURES_PER_USER`` for the name from all addresses."""
    _within_budget(
        request,
        decisions.LOCKED_OUT,
        settings.AXES_FAILURE_LIMIT,
        failures=counts.pair_failures,
        in_flight=counts.pair_in_flight,
    )
    _within_budget(
        request,
        decisions.USERNAME_LOCKED,
        settings.LDAP_MAX_FAILURES_PER_USER,
        failures=counts.name_failures,
        in_flight=counts.name_in_flight,
    )


def _equals(column: str, value: Any) -> tuple[str, list[Any]]:
    """``column = %s``, or ``column IS NULL`` for None (as the ORM writes ``filter(column=None)``)."""
    return (f"{column} IS NULL", []) if value is None else (f"{column} = %s", [value])


def check_entry_username(request: HttpRequest | None, username: str) -> None:
    """After the user search, before the user's bind: the entry's own (canonical) username, which
    may differ from the one typed (a second ``uid`` value of the entry). Its failures are the ones
    that count (``identity.accounts.lockout_username`` reads it back), so every spelling that
    reaches one entry shares its budgets: the guess is checked against the entry's failures and
    guesses in flight, from this address and from all, and from then on counts in flight under the
    entry's name. A spent budget refuses without the bind (``RefusedBeforeTheDirectory``)."""
    if request is None:
        return
    username = lockout_key(username)
    setattr(request, ENTRY_USERNAME, username)
    counted: tuple[str, int] | None = getattr(request, COUNTED, None)
    if counted is not None and counted[0] == username:
        return  # the name typed is the entry's own: its budgets were checked as the guess was counted
    address = getattr(request, "axes_ip_address", None)  # set by django-axes' check, first of the backends
    with serialized(username):
        counts = _Budgets(username, address, timezone.now()).read()  # this guess is still under the name typed
        if counts.name_failures:  # a success must reset them (identity.lockout skips the reset when none counted)
            setattr(request, FAILURES_COUNTED, counts.name_failures)
        _refuse_if_spent(request, counts)
        if counted is not None:
            GuessInFlight.objects.filter(pk=counted[1]).update(username=username)
            setattr(request, COUNTED, (username, counted[1]))


def _within_budget(request: HttpRequest, locked: str, limit: int, *, failures: int, in_flight: int) -> None:
    if failures + in_flight < limit:
        return
    _refuse(request, locked if failures >= limit else decisions.TOO_MANY_AT_ONCE)


def _refuse(request: HttpRequest, reason: str) -> NoReturn:
    decisions.record(request, reason)
    request.axes_locked_out = True  # type: ignore[attr-defined]  # answered with django-axes' 429 page
    raise RefusedBeforeTheDirectory(reason)


@contextmanager
def settling(request: HttpRequest | None) -> Iterator[None]:
    """Take the guess off the in-flight list and record its real outcome in the same serialized
    step, so no other guess sees the count dip in between."""
    counted: tuple[str, int] | None = getattr(request, COUNTED, None)
    if counted is None:
        yield
        return
    username, guess_pk = counted
    with serialized(username, savepoint=False):  # in the sign-in's own transaction, at login()
        # With it go the stale guesses of processes that died on the way, in the same statement.
        _take_off(guess_pk, timezone.now() - STALE)
        delattr(request, COUNTED)
        yield


def _take_off(guess_pk: int, stale_before: datetime) -> None:
    """Delete the guess ``guess_pk`` and every guess started before ``stale_before``: one DELETE,
    by hand (the ORM's ``delete()`` builds a deletion collector first: 0.3 ms per sign-in)."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {q(GuessInFlight._meta.db_table)} "  # noqa: S608 - names from _meta
            f"WHERE {q('id')} = %s OR {q('started_at')} < %s",  # (their columns are their names)
            [guess_pk, connection.ops.adapt_datetimefield_value(stale_before)],
        )


def settle_what_is_left(request: HttpRequest | None) -> None:
    """The sign-in is over and neither signal settled its guess: the backend accepted the password
    but the form refused the account (inactive). Not a guess that failed: it is simply taken off."""
    with settling(request):
        pass


def settle_accepted(request: HttpRequest | None) -> None:
    """A backend accepted the password: take the guess off now, unless the sign-in form said the
    login that follows will (``settle_at_login``), in the one transaction of the sign-in's writes."""
    if not getattr(request, SETTLED_AT_LOGIN, False):
        settle_what_is_left(request)


@contextmanager
def sign_in_transaction(request: HttpRequest) -> Iterator[None]:
    """The sign-in's writes in one transaction, login() settling the guess in it; when anything in
    it fails, the rolled-back guess is taken off after all, so an error never spends the person's
    budget (a guess left in flight counts against them for ``STALE``). Re-raises the error."""
    counted: tuple[str, int] | None = getattr(request, COUNTED, None)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        if counted is not None:
            try:
                GuessInFlight.objects.filter(pk=counted[1]).delete()
            except DatabaseError as error:  # the database itself failed: the guess goes stale
                log.warning("a failed sign-in's guess stays in flight for %s: %s", STALE, error)
        raise


def settle_at_login(request: HttpRequest) -> None:
    """The sign-in form's promise: an accepted guess is settled by ``login()`` (django-axes'
    ``user_logged_in``, ``identity.lockout``) or, when the form refuses the account, by the form."""
    setattr(request, SETTLED_AT_LOGIN, True)
