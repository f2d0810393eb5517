"""Live revocation: is a signed-in directory user still allowed, as far as the directory says now?

django-auth-ldap reads the directory only at sign-in, so someone removed from the app group (or
from ``active``) would keep their session until it expired. ``DirectoryRevalidationMiddleware``
asks at most every ``LDAP_REVALIDATE_SECONDS`` per session: two operations (the service
account's bind and the user search, memberOf included), beside the page rather than in front of
it (identity.beside_the_page).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_auth_ldap.backend import _LDAPUser

from identity import beside_the_page, decisions
from identity.backends import JumpCloudLDAPBackend, forget_cached_dn
from identity.directory_settings import ldap_setting

log = logging.getLogger(__name__)
DIRECTORY_BACKEND = f"{JumpCloudLDAPBackend.__module__}.{JumpCloudLDAPBackend.__qualname__}"
CHECKED_AT = "identity.revalidated_at"
RETRY_SECONDS = 30


def _still_allowed_in_background(username: str) -> bool | None:
    """issue 12 hook: still_allowed from a pool thread, with a request of its own to carry the
    reason django-auth-ldap's ldap_error gives (identity.decisions)."""
    try:
        return still_allowed(HttpRequest(), username)
    finally:
        # django-auth-ldap caches a failed DN lookup as "no such user"; a sign-in of the same
        # person racing this check must not find that.
        forget_cached_dn(username)


def still_allowed(request: HttpRequest, username: str) -> bool | None:
    """True or False as the directory answers now; None when it cannot answer."""
    forget_cached_dn(username)
    ldap_user = _LDAPUser(JumpCloudLDAPBackend(), username=username, request=request)
    try:
        if ldap_user.dn is None:
            decision = decisions.recorded(request)
            return None if decision is not None and decision.directory_away else False
        ldap_user._check_requirements()
        active_dn = ldap_setting("USER_FLAGS_BY_GROUP")["is_active"]
        allowed: bool = ldap_user._get_groups().is_member_of(active_dn)
        return allowed
    except ldap_user.AuthenticationFailed:
        return False
    except ldap.LDAPError:
        return None


class DirectoryRevalidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._inactive_directory_user(request):
            return self._end(request, "inactive")
        if self._due(request):
            username = request.user.get_username()
            # issue 12 hook: the check runs beside the page and never holds it longer than
            # LDAP_REVALIDATE_WAIT_SECONDS; a later "no" marks the user inactive (above).
            verdict = beside_the_page.verdict(username, _still_allowed_in_background)
            if verdict is False:
                get_user_model()._default_manager.filter(username=username).update(is_active=False)
                return self._end(request, "no longer allowed by the directory")
            if verdict is None or verdict == beside_the_page.PENDING:
                log.warning(
                    "could not revalidate %r: the directory did not answer%s; the session goes on",
                    username,
                    " in time" if verdict == beside_the_page.PENDING else "",
                )
                # An outage defers the check, by a short while rather than a whole interval.
                retry_in = min(RETRY_SECONDS, settings.LDAP_REVALIDATE_SECONDS)
                request.session[CHECKED_AT] = time.time() - settings.LDAP_REVALIDATE_SECONDS + retry_in
            else:
                request.session[CHECKED_AT] = time.time()
        return self.get_response(request)

    @staticmethod
    def _end(request: HttpRequest, reason: str) -> HttpResponse:
        username = request.user.get_username()
        logout(request)
        decisions.log(request, "ended", username, decisions.Decision(reason))
        return redirect_to_login(request.get_full_path())

    @staticmethod
    def _inactive_directory_user(request: HttpRequest) -> bool:
        """issue 12 hook (overlaps issue 11's "inactive users keep their session"): django-auth-ldap
        loads a session's user without looking at is_active, so it is looked at here."""
        return bool(
            request.user.is_authenticated
            and request.session.get(BACKEND_SESSION_KEY) == DIRECTORY_BACKEND
            and not request.user.is_active
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
