"""Live revocation: is a signed-in user still allowed, as far as Django and the directory say now?

- A session whose user is inactive in Django (``ldap_sync`` deactivated a leaver, an admin
  unticked "active") ends at its next request, whatever the directory's state.
- django-auth-ldap reads the directory only at sign-in, so someone removed from the app group (or
  from ``active``) would keep their session until it expired. ``DirectoryRevalidationMiddleware``
  asks at most every ``LDAP_REVALIDATE_SECONDS`` per session, finding the person by their stable
  id (so a rename in JumpCloud follows them) and deciding with ``identity.accounts``, as the
  sign-in and ``ldap_sync`` do: two operations (the service account's bind and the search,
  memberOf included); changes (flags, groups, a new username) are saved.
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

from identity import accounts, decisions, ldap_client
from identity.attributes import USERNAME_ATTRIBUTE
from identity.backends import JumpCloudLDAPBackend, describe
from identity.directory_settings import SEARCH, current
from identity.models import DirectoryProfile

log = logging.getLogger(__name__)
DIRECTORY_BACKEND = f"{JumpCloudLDAPBackend.__module__}.{JumpCloudLDAPBackend.__qualname__}"
CHECKED_AT = "identity.revalidated_at"
GONE = "gone from the directory"


def directory_verdict(user: User) -> tuple[bool | None, str]:
    """``(allowed, reason)`` as the directory answers now: ``allowed`` is None when it cannot
    answer (``reason`` then names the LDAP error). The account's changes are saved."""
    directory = current()
    profile = DirectoryProfile.objects.filter(user=user).first()
    try:
        with ldap_client.held_connection(directory) as connection:
            if profile is not None and profile.directory_id:
                found = ldap_client.find_user(connection, directory.user_id_attribute, profile.directory_id, directory)
            else:  # a directory user from before stable ids
                found = ldap_client.find_user(connection, USERNAME_ATTRIBUTE, user.get_username(), directory)
            if found is None:
                return False, GONE
            group_dns = (
                ldap_client.group_dns_of(connection, found[0], directory) if directory.group_source == SEARCH else None
            )
    except ldap.LDAPError as error:
        return None, describe(error)
    account = accounts.decide(accounts.DirectoryEntry.from_ldap(found[0], found[1], group_dns), directory)
    accounts.log_warnings(account)
    if account.mirrored:
        try:
            accounts.save(account)
        except accounts.AccountConflict as conflict:
            return False, str(conflict)
    elif not account.refusal:
        accounts.deactivate(account)
    return account.allowed, account.reason


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
            allowed, reason = directory_verdict(request.user)  # type: ignore[arg-type]
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
