"""Authentication backends: the JumpCloud directory first, then Django's own (break-glass) accounts.

Each backend leaves the reason for its decision on the request (``identity.decisions``), so the
sign-in view can show one message to the person and log the real reason once.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, valid_cache_key

from identity import decisions
from identity.breaker import GUARDED_LDAP, UNREACHABLE
from identity.directory_settings import ldap_setting

# django-auth-ldap's reasons for a refusal, in the words the audit log uses.
REFUSALS = {
    "failed to map the username to a DN.": decisions.UNKNOWN_USER,
    "user DN/password rejected by LDAP server.": decisions.WRONG_PASSWORD,
    "user does not satisfy AUTH_LDAP_REQUIRE_GROUP": decisions.NOT_IN_APP_GROUP,
}


class JumpCloudLDAPBackend(LDAPBackend):  # type: ignore[misc]
    """django-auth-ldap's backend with two changes.

    - A sign-in always reads the directory. With ``AUTH_LDAP_CACHE_TIMEOUT`` set, django-auth-ldap
      caches the user's DN (a failed lookup too: after an outage, "no such user" for the whole
      timeout) and group names (so a group removed in JumpCloud would stay mirrored until expiry).
      Both entries are dropped for the user signing in; permission checks between sign-ins still
      use the cache.
    - The decision and its reason are recorded: django-auth-ldap only logs them at DEBUG, and
      turns an unreachable directory into a plain "no".
    """

    @property
    def ldap(self) -> Any:
        """issue 12 hook: every directory call of a sign-in or session check goes through the
        circuit breaker and shares the sign-in's deadline (identity.breaker)."""
        return GUARDED_LDAP

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> User | None:
        request: HttpRequest | None = ldap_user._request
        forget_cached_dn(ldap_user._username)
        # The same three steps as django-auth-ldap's _LDAPUser.authenticate, with the outcome kept.
        try:
            ldap_user._authenticate_user_dn(password)
            ldap_user._check_requirements()
            _save_user(ldap_user)
        except ldap_user.AuthenticationFailed as refusal:
            # django-auth-ldap turns an error in the user search into "no such user" after
            # sending ldap_error (note_directory_error); keep that truer reason.
            if not _directory_away(request):
                reason = REFUSALS.get(str(refusal), str(refusal))
                if reason == decisions.UNKNOWN_USER:
                    _bind_that_cannot_succeed(ldap_user, password)
                decisions.record(request, reason)
            return None
        except ldap.LDAPError as error:
            note_directory_error(request=request, exception=error)
            return None
        user: User = ldap_user._user
        return user

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[Any, bool]:
        groups = ldap_user._get_groups()
        cache.delete(groups._cache_key("_group_names"))
        groups._group_names = None
        user_and_built: tuple[Any, bool] = super().get_or_build_user(username, ldap_user)
        return user_and_built


class LocalAccountBackend(ModelBackend):
    """Django's own accounts, such as a break-glass admin made with createsuperuser, and only those.
    With ``AUTH_LOCAL_ACCOUNTS`` off, none at all: only directory users sign in.

    Directory users have no usable Django password, and an unknown name has no account: both are
    refused without running the password hasher, so a wrong password for a directory user costs
    no PBKDF2 (about 0.2 s of CPU here). ModelBackend hashes for unknown names to hide which local
    accounts exist; the only local accounts here are break-glass ones, and the lockout limits
    guessing, so refusing fast is the better trade.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if not settings.AUTH_LOCAL_ACCOUNTS:
            return None
        user_model = get_user_model()
        username = username if username is not None else kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            return None
        if not user.has_usable_password():
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        decisions.record(request, decisions.WRONG_PASSWORD, detail="local account")
        return None


def _bind_that_cannot_succeed(ldap_user: Any, password: str) -> None:
    """issue 12 hook: a name nobody has costs the directory round trip a known name's wrong
    password does (the person's own bind), so the time of the answer does not tell them apart.
    The DN is under the base DN, random, and names nobody: no account's failure count moves."""
    nobody_dn = f"cn=nobody-{secrets.token_hex(8)},{ldap_setting('USER_SEARCH').base_dn}"
    with contextlib.suppress(ldap.LDAPError):
        ldap_user.connection.simple_bind_s(nobody_dn, password)


def forget_cached_dn(username: str) -> None:
    """Drop django-auth-ldap's cached DN lookup for ``username`` (a failed one is cached too)."""
    cache.delete(valid_cache_key(f"django_auth_ldap.user_dn.{username}"))


def _save_user(ldap_user: Any) -> None:
    """Create or update the user, profile and groups in one transaction: all or nothing."""
    try:
        with transaction.atomic():
            ldap_user._get_or_create_user()
    except IntegrityError:
        # Two first sign-ins of one person at once: the other request created the row first,
        # and this time round the user is found instead of created.
        with transaction.atomic():
            ldap_user._get_or_create_user()


def note_directory_error(
    sender: Any = None, *, request: HttpRequest | None, exception: Exception, **kwargs: Any
) -> None:
    """Receiver of django-auth-ldap's ``ldap_error``: the directory failed to answer this attempt."""
    if not isinstance(exception, ldap.LDAPError):
        return
    if isinstance(exception, UNREACHABLE):
        decisions.record(request, decisions.DIRECTORY_UNAVAILABLE, detail=_describe(exception, with_info=True))
    else:
        decisions.record(request, decisions.DIRECTORY_ERROR, detail=_describe(exception))
    if kwargs.get("context") == "search_for_user_dn":
        # issue 12 hook: django-auth-ldap caches the user search's result, a failed search as "no
        # such user"; a sign-in or session check racing this one would read that. Raised, the
        # error is not cached, and every caller already treats it as the directory's failure.
        raise exception


def _directory_away(request: HttpRequest | None) -> bool:
    decision = decisions.recorded(request)
    return decision is not None and decision.directory_away


def _describe(error: ldap.LDAPError, *, with_info: bool = False) -> str:
    """The error's name and libldap's description. The server's own text (``info``) only where
    libldap wrote it locally (connection and TLS failures): a server's answer may echo input."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    text = " - ".join(str(fields[key]) for key in ("desc", "info") if fields.get(key) and (key == "desc" or with_info))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
