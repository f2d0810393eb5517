"""Authentication backends: the JumpCloud directory first, then Django's own (break-glass) accounts.

Each backend leaves the reason for its decision on the request (``identity.decisions``), so the
sign-in view can show one message to the person and log the real reason once.

django-auth-ldap does the sign-in's directory work (connection, the service account's search for
the user, the user's own bind); what the entry means for Django is ``identity.accounts``'. Every
use of django-auth-ldap's private names is in this module, each with its reason, and
``tests/test_django_auth_ldap_contract.py`` fails when an upgrade drops one.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend

from identity import accounts, decisions, ldap_client
from identity.directory_settings import SEARCH, current

# python-ldap's answers that mean the directory is away (down, unreachable, or too slow), as
# opposed to one that answered and said no.
UNREACHABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.TIMELIMIT_EXCEEDED, ldap.UNAVAILABLE, ldap.BUSY)

# django-auth-ldap's reasons for a refusal (the texts of its AuthenticationFailed), in the words the
# audit log uses.
UNMAPPED = "failed to map the username to a DN."
REFUSALS = {
    UNMAPPED: decisions.UNKNOWN_USER,
    "user DN/password rejected by LDAP server.": decisions.WRONG_PASSWORD,
}


class JumpCloudLDAPBackend(LDAPBackend):  # type: ignore[misc]
    """django-auth-ldap's backend, used for the directory round trips only.

    - After the user's bind, the entry goes to ``identity.accounts``: the same decision as
      ``ldap_sync`` and the session revalidation make (django-auth-ldap's own requirement, flag,
      mirroring and attribute settings are left unset).
    - The decision and its reason are recorded: django-auth-ldap only logs them at DEBUG, and
      turns an unreachable directory into a plain "no".
    """

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> User | None:
        # _request: the request django-auth-ldap was given; the reason is recorded on it.
        request: HttpRequest | None = ldap_user._request
        try:
            with (
                ldap_client.held_connection() as service,
                ldap_client.held_connection(purpose=ldap_client.USER_BINDS) as binds,
            ):
                # _connection, _connection_bound: django-auth-ldap works on this thread's held
                # connections (no handshake per sign-in): the search on the one bound as the
                # service account, then the user's bind on the other, so the first never needs
                # binding back.
                ldap_user._connection, ldap_user._connection_bound = service, True
                if ldap_user.dn is None:  # asked once: django-auth-ldap would search again
                    raise ldap_user.AuthenticationFailed(UNMAPPED)
                ldap_user._connection = binds
                # _authenticate_user_dn: the user's bind (the search is done), without
                # django-auth-ldap's requirement checks and population (identity.accounts does those).
                ldap_user._authenticate_user_dn(password)
                ldap_user._connection, ldap_user._connection_bound = service, True
                entry = _entry_of(ldap_user)
        except ldap_user.AuthenticationFailed as refusal:
            # django-auth-ldap turns an error in the user search into "no such user" after
            # sending ldap_error (note_directory_error); keep that truer reason, and a new
            # connection for the next sign-in.
            if _directory_away(request):
                ldap_client.drop_held_connection()
            else:
                decisions.record(request, REFUSALS.get(str(refusal), str(refusal)))
            return None
        except ldap.LDAPError as error:
            note_directory_error(request=request, exception=error)
            return None
        return sign_in(request, entry)

    def get_user(self, user_id: int) -> User | None:
        # Permissions come from mirrored Django groups (ModelBackend), so the user needs no
        # django-auth-ldap wrapper; an inactive user is nobody (as ModelBackend answers).
        # The profile comes in the same query: every page of a directory user shows it.
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("directory_profile").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if user.is_active else None


def sign_in(request: HttpRequest | None, entry: accounts.DirectoryEntry) -> User | None:
    """The Django user for an entry whose password the directory just accepted, or None with the
    reason recorded. A member who is not active is returned (and saved inactive): the sign-in form
    refuses them, as Django refuses any inactive user."""
    account = accounts.decide(entry)
    accounts.log_warnings(account)
    if not account.mirrored:
        if not account.refusal:  # left the app group: what ldap_sync would do, now
            accounts.deactivate(account)
        decisions.record(request, account.reason)
        return None
    try:
        return accounts.save(account)
    except accounts.AccountConflict as conflict:
        decisions.record(request, str(conflict), detail=account.username)
        return None


def _entry_of(ldap_user: Any) -> accounts.DirectoryEntry:
    """The signed-in user's entry and groups. With ``LDAP_GROUP_SOURCE=search`` the groups are
    searched as the service account: users may read only their own entry."""
    if current().group_source != SEARCH:
        return accounts.DirectoryEntry.from_ldap(ldap_user.dn, ldap_user.attrs)
    # _get_connection: the held connection bound as the service account.
    group_dns = ldap_client.group_dns_of(ldap_user._get_connection(), ldap_user.dn)
    return accounts.DirectoryEntry.from_ldap(ldap_user.dn, ldap_user.attrs, group_dns)


class LocalAccountBackend(ModelBackend):
    """Django's own accounts, such as a break-glass admin made with createsuperuser, and only those.
    With ``AUTH_LOCAL_ACCOUNTS`` off, none at all: only directory users sign in.

    Directory users have no usable Django password, and an unknown name has no account: both are
    refused without running the password hasher, so a wrong password for a directory user costs
    no PBKDF2 (about 0.2 s of CPU here). ModelBackend hashes for unknown names to hide which local
    accounts exist; the only local accounts here are break-glass ones, and the lockout limits
    guessing, so refusing fast is the better trade.

    As a ModelBackend it also answers permission checks for every user, directory users included:
    their permissions are those of their mirrored Django groups.
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


def note_directory_error(
    sender: Any = None, *, request: HttpRequest | None, exception: Exception, **kwargs: Any
) -> None:
    """Receiver of django-auth-ldap's ``ldap_error``: the directory failed to answer this attempt."""
    if not isinstance(exception, ldap.LDAPError):
        return
    if isinstance(exception, UNREACHABLE):
        decisions.record(request, decisions.DIRECTORY_UNAVAILABLE, detail=describe(exception, with_info=True))
    else:
        decisions.record(request, decisions.DIRECTORY_ERROR, detail=describe(exception))


def _directory_away(request: HttpRequest | None) -> bool:
    decision = decisions.recorded(request)
    return decision is not None and decision.directory_away


def describe(error: ldap.LDAPError, *, with_info: bool = False) -> str:
    """The error's name and libldap's description. The server's own text (``info``) only where
    libldap wrote it locally (connection and TLS failures): a server's answer may echo input."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    text = " - ".join(str(fields[key]) for key in ("desc", "info") if fields.get(key) and (key == "desc" or with_info))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
