"""Live revocation: is a signed-in directory user still allowed, as far as the directory says now?

django-auth-ldap reads the directory only at sign-in, so someone removed from the app group (or
from ``active``) would keep their session until it expired. ``DirectoryRevalidationMiddleware``
asks at most every ``LDAP_REVALIDATE_SECONDS`` per session: two operations (the service
account's bind and the user search, memberOf included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_auth_ldap.backend import _LDAPUser

from identity import decisions
from identity.backends import JumpCloudLDAPBackend, forget_cached_dn
from identity.directory_settings import ldap_setting

log = logging.getLogger(__name__)
DIRECTORY_BACKEND = f"{JumpCloudLDAPBackend.__module__}.{JumpCloudLDAPBackend.__qualname__}"
CHECKED_AT = "identity.revalidated_at"


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
        if self._due(request):
            verdict = still_allowed(request, request.user.get_username())
            if verdict is False:
                username = request.user.get_username()
                logout(request)
                decisions.log(request, "ended", username, decisions.Decision("no longer allowed by the directory"))
                return redirect_to_login(request.get_full_path())
            if verdict is None:
                log.warning(
                    "could not revalidate %r: the directory did not answer; the session goes on",
                    request.user.get_username(),
                )
            request.session[CHECKED_AT] = time.time()
        return self.get_response(request)

    @staticmethod
    def _due(request: HttpRequest) -> bool:
        if not request.user.is_authenticated or request.session.get(BACKEND_SESSION_KEY) != DIRECTORY_BACKEND:
            return False
        checked_at: Any = request.session.get(CHECKED_AT)
        if checked_at is None:  # just signed in: the sign-in itself was the check
            request.session[CHECKED_AT] = time.time()
            return False
        return bool(time.time() - float(checked_at) >= settings.LDAP_REVALIDATE_SECONDS)
