"""How many guesses reach the directory, whatever arrives at once.

django-axes counts a failure after the directory has answered it, so 64 simultaneous wrong
passwords all passed its check and all reached the directory. Here a guess is counted when it
*starts*: before a sign-in goes on to the directory, one serialized step reads the failures
recorded so far (django-axes' own ``AccessAttempt`` rows, in-flight guesses included), refuses if
a budget is spent, and otherwise counts this guess in advance. When the attempt ends, the advance
is taken back (identity.lockout's handler) and django-axes records what really happened: a
failure, a success (which resets the pair), or nothing at all for an outage.

Two budgets, both over django-axes' cool-off (``AXES_COOLOFF_MINUTES``):
- ``AXES_FAILURE_LIMIT`` per username + client address, as django-axes keys it;
- ``LDAP_MAX_FAILURES_PER_USER`` per username from all addresses together. JumpCloud may lock
  (disable or remove) a user after repeated failed binds, and that user loses their laptop and
  mail with it: this app must never be the reason. The price: anyone can keep one username
  locked out of this app by guessing; an admin lifts it (README: Security).

And one name is never tried at all: the service account's, whose guesses would be binds of the
account every sign-in depends on.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ldap
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, Sum
from django.http import HttpRequest
from django.utils import timezone

from identity import decisions
from identity.directory_settings import ldap_setting

COUNTED = "identity_guess_counted"


class RefusedBeforeTheDirectory(PermissionDenied):
    """Stops Django's backend loop: no other backend, and so no directory, sees this attempt."""


def canonical(username: str) -> str:
    return unicodedata.normalize("NFC", username).strip().casefold()


def service_account_uid() -> str:
    """The ``uid`` in LDAP_BIND_DN (the value of its first RDN), as a username would be typed."""
    try:
        rdn = ldap.dn.str2dn(ldap_setting("BIND_DN"))[0]
    except (ldap.DECODING_ERROR, IndexError):
        return ""
    return canonical(str(rdn[0][1]))


def refuse_service_account(request: HttpRequest, username: str | None) -> None:
    """The form never binds as the service account: refused at once, with its own reason."""
    uid = service_account_uid()
    if uid and username is not None and canonical(username) == uid:
        decisions.record(request, decisions.SERVICE_ACCOUNT)
        raise RefusedBeforeTheDirectory("the service account does not sign in through the form")


@contextmanager
def serialized(username: str) -> Iterator[None]:
    """One guess at a time per username, across threads and processes. SQLite: the settings open
    every transaction with BEGIN IMMEDIATE, which takes the database's write lock. PostgreSQL: a
    transaction-scoped advisory lock on the name."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"identity.guess:{username}"])
        yield


def _failures(**match: Any) -> int:
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    total = AccessAttempt.objects.filter(attempt_time__gte=since, **match).aggregate(n=Sum("failures_since_start"))
    return int(total["n"] or 0)


def count_guess_in_advance(request: HttpRequest, credentials: dict[str, Any]) -> None:
    """Refuse when a budget is spent; otherwise count this guess now, before the directory sees it."""
    username = get_client_username(request, credentials)
    address = request.axes_ip_address  # type: ignore[attr-defined]  # set by django-axes' check just before
    with serialized(username):
        if _failures(username=username, ip_address=address) >= settings.AXES_FAILURE_LIMIT:
            decisions.record(request, decisions.LOCKED_OUT)
            request.axes_locked_out = True  # type: ignore[attr-defined]
            raise RefusedBeforeTheDirectory("locked out")
        if _failures(username=username) >= settings.LDAP_MAX_FAILURES_PER_USER:
            decisions.record(request, decisions.USERNAME_LOCKED)
            request.axes_locked_out = True  # type: ignore[attr-defined]
            raise RefusedBeforeTheDirectory("username locked out")
        attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
            username=username,
            ip_address=address,
            user_agent=request.axes_user_agent,  # type: ignore[attr-defined]
            defaults={
                "get_data": "",
                "post_data": "",
                "http_accept": request.axes_http_accept,  # type: ignore[attr-defined]
                "path_info": request.axes_path_info,  # type: ignore[attr-defined]
                "failures_since_start": 1,
                "attempt_time": timezone.now(),
            },
        )
        if not created:
            AccessAttempt.objects.filter(pk=attempt.pk).update(
                failures_since_start=F("failures_since_start") + 1, attempt_time=timezone.now()
            )
    setattr(request, COUNTED, (username, attempt.pk))


@contextmanager
def settling(request: HttpRequest | None) -> Iterator[None]:
    """Take back the guess counted in advance, and record the real outcome in the same serialized
    step, so no other guess sees the count dip in between."""
    counted: tuple[str, int] | None = getattr(request, COUNTED, None)
    if counted is None:
        yield
        return
    username, attempt_pk = counted
    with serialized(username):
        AccessAttempt.objects.filter(pk=attempt_pk).update(failures_since_start=F("failures_since_start") - 1)
        AccessAttempt.objects.filter(pk=attempt_pk, failures_since_start__lte=0).delete()
        delattr(request, COUNTED)
        yield
