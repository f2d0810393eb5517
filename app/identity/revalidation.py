"""Live revocation: is a signed-in user still allowed, as far as Django and the directory say now?

- A session whose user is inactive in Django (``ldap_sync`` deactivated a leaver, an admin
  unticked "active") ends at its next request, whatever the directory's state.
- django-auth-ldap reads the directory only at sign-in, so someone removed from the app group (or
  from ``active``) would keep their session until it expired. ``DirectoryRevalidationMiddleware``
  asks at most every ``LDAP_REVALIDATE_SECONDS`` per session, finding the person by their stable
  id (so a rename in JumpCloud follows them) and deciding with ``identity.accounts``, as the
  sign-in and ``ldap_sync`` do: one search (memberOf included) on the server thread's kept
  service connection; changes (flags, groups, a new username) are saved. The directory is read
  beside the page, never in front of it for longer than ``LDAP_REVALIDATE_WAIT_SECONDS``
  (identity.beside_the_page); an outage defers the check by ``RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model, logout
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from identity import accounts, beside_the_page, breaker, decisions, dn, ldap_client, reads
from identity.attributes import USERNAME_ATTRIBUTE
from identity.backends import JumpCloudLDAPBackend, describe
from identity.directory_settings import SEARCH, current
from identity.ldap_client import RawEntry

log = logging.getLogger(__name__)
DIRECTORY_BACKEND = f"{JumpCloudLDAPBackend.__module__}.{JumpCloudLDAPBackend.__qualname__}"
CHECKED_AT = "identity.revalidated_at"
GONE = "gone from the directory"
RETRY_SECONDS = 30


def directory_verdict(user: User) -> tuple[bool | None, str]:
    """``(allowed, reason)`` as the directory answers now: ``allowed`` is None when it cannot
    answer (``reason`` then names the LDAP error). The account's changes are saved."""
    return decide(user, read_entry(*_whom(user)))


# issue 12 hooks: the verdict in two halves, so the directory half (read_entry) can run beside the
# page (identity.beside_the_page) while the database half (decide) runs wherever the answer lands.
Reading = tuple[list[RawEntry], list[str] | None] | str  # (entries found, group DNs), or the LDAP error


def _whom(user: User) -> tuple[str | None, str, str | None]:
    """``(stable id or None, username, DN last seen or None)``: what ``read_entry`` looks for."""
    profile = reads.directory_profile(user)
    keyed = profile is not None and profile.directory_id_attribute == current().user_id_attribute
    directory_id = (profile.directory_id if keyed and profile is not None else None) or None
    return directory_id, user.get_username(), profile.dn if profile is not None else None


def read_entry(directory_id: str | None, username: str, last_seen_dn: str | None = None) -> Reading:
    """The person's entry (found by stable id, or by username for a user from before stable ids)
    and, with LDAP_GROUP_SOURCE=search, their group DNs; or the LDAP error's description. Touches
    the directory only, on this thread's held service connection, through the circuit breaker and
    within one LDAP_TIMEOUT.

    Several entries with the stable id: the one at ``last_seen_dn`` is the person, as at sign-in
    (where the other entry is refused); when none of them is there, all are returned and
    ``decide`` refuses."""
    directory = current()
    try:
        with breaker.deadline(), ldap_client.held_connection(ldap_client.SERVICE, directory) as connection:
            if directory_id:
                found = ldap_client.find_users(connection, directory.user_id_attribute, directory_id, directory)
            else:  # a directory user whose stable id was not read with this LDAP_USER_ID_ATTRIBUTE
                found = ldap_client.find_users(connection, USERNAME_ATTRIBUTE, username, directory)
            if len(found) > 1 and last_seen_dn is not None:
                last_seen = [entry for entry in found if dn.same_dn(entry[0], last_seen_dn)]
                if len(last_seen) == 1:
                    log.warning("%d entries hold the %s of %s", len(found), directory.user_id_attribute, last_seen_dn)
                    found = last_seen
            group_dns = (
                ldap_client.group_dns_of(connection, found[0][0], directory)
                if len(found) == 1 and directory.group_source == SEARCH
                else None
            )
    except ldap.LDAPError as error:
        return describe(error)
    return found, group_dns


def decide(user: User, reading: Reading) -> tuple[bool | None, str]:
    """What ``read_entry``'s answer means for ``user``, with the account's changes saved."""
    if isinstance(reading, str):
        return None, reading
    found, group_dns = reading
    if not found:
        return False, GONE
    if len(found) > 1:
        return False, accounts.STABLE_ID_SHARED
    directory = current()
    (entry_dn, attrs), *_ = found
    account = accounts.decide(accounts.DirectoryEntry.from_ldap(entry_dn, attrs, group_dns), directory)
    accounts.log_warnings(account)
    if account.mirrored:
        try:
            accounts.save(account)
        except accounts.AccountConflict as conflict:
            return False, str(conflict)
    elif not account.refusal:
        accounts.deactivate(account)
    return account.allowed, account.reason


def _decide_late(user_pk: Any, reading: Reading) -> None:
    """The answer came after the page stopped waiting (a pool thread): a "no" marks the user
    inactive, so the session ends at its next request in whichever process serves it."""
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is None:
        return
    allowed, reason = decide(user, reading)
    if allowed is False:
        get_user_model()._default_manager.filter(pk=user_pk).update(is_active=False)
        decisions.log(
            None, "ended", user.get_username(), decisions.Decision("no longer allowed by the directory", reason)
        )


def mark_checked(request: HttpRequest) -> None:
    """The sign-in just asked the directory: the next check is due in LDAP_REVALIDATE_SECONDS.
    Set with the sign-in's own session write, so the first page view writes nothing."""
    request.session[CHECKED_AT] = time.time()


class DirectoryRevalidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session and not request.user.is_authenticated:
            self._end_session_of_inactive_user(request)
        elif self._due(request):
            username = request.user.get_username()
            user: User = request.user  # type: ignore[assignment]
            # issue 12 hook: the directory half runs beside the page, which waits for it at most
            # LDAP_REVALIDATE_WAIT_SECONDS; a later answer is acted on by _decide_late.
            whom = _whom(user)
            reading = beside_the_page.answer(
                username, lambda: read_entry(*whom), late=lambda late_reading: _decide_late(user.pk, late_reading)
            )
            if reading is beside_the_page.PENDING:
                allowed, reason = None, "no answer yet"
            else:
                allowed, reason = decide(user, reading)
            if allowed is False:
                logout(request)
                decisions.log(
                    request, "ended", username, decisions.Decision("no longer allowed by the directory", reason)
                )
                return redirect_to_login(request.get_full_path())
            if allowed is None:
                log.warning(
                    "could not revalidate %r: the directory did not answer (%s); the session goes on", username, reason
                )
                # An outage defers the check, by a short while rather than a whole interval.
                retry_in = min(RETRY_SECONDS, settings.LDAP_REVALIDATE_SECONDS)
                request.session[CHECKED_AT] = time.time() - settings.LDAP_REVALIDATE_SECONDS + retry_in
            else:
                request.session[CHECKED_AT] = time.time()
        return self.get_response(request)

    @staticmethod
    def _end_session_of_inactive_user(request: HttpRequest) -> None:
        """The session names a user the backends no longer return: inactive, or deleted."""
        row = get_user_model()._default_manager.filter(pk=request.session[SESSION_KEY]).values_list("username").first()
        request.session.flush()
        decisions.log(
            request,
            "ended",
            row[0] if row else "-",
            decisions.Decision(decisions.INACTIVE, "the session's user is inactive in Django"),
        )

    @staticmethod
    def _due(request: HttpRequest) -> bool:
        if not request.user.is_authenticated or request.session.get(BACKEND_SESSION_KEY) != DIRECTORY_BACKEND:
            return False
        checked_at: Any = request.session.get(CHECKED_AT)
        if checked_at is None:  # just signed in: the sign-in itself was the check
            request.session[CHECKED_AT] = time.time()
            return False
        return bool(time.time() - float(checked_at) >= settings.LDAP_REVALIDATE_SECONDS)
