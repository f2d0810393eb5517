"""Authentication backends: the JumpCloud directory first, then Django's own (break-glass) accounts.

Each backend leaves the reason for its decision on the request (``identity.decisions``), so the
sign-in view can show one message to the person and log the real reason once.

django-auth-ldap does the sign-in's directory work (the service account's search for the user, the
user's own bind) on this thread's held connections (``identity.ldap_client.held_connection``); what
the entry means for Django is ``identity.accounts``'. Every
use of django-auth-ldap's private names is in this module, each with its reason, and
``tests/test_django_auth_ldap_contract.py`` fails when an upgrade drops one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend
from ldap.controls import DecodeControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl

from identity import accounts, decisions, dn, ldap_client, reads, throttle
from identity.breaker import GUARDED_LDAP, UNREACHABLE
from identity.directory_settings import SEARCH, current

log = logging.getLogger(__name__)

# django-auth-ldap's reasons for a refusal (the texts of its AuthenticationFailed), in the words the
# audit log uses.
UNKNOWN_USER_REFUSAL = "failed to map the username to a DN."
REFUSALS = {
    UNKNOWN_USER_REFUSAL: decisions.UNKNOWN_USER,
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

    @property
    def ldap(self) -> Any:
        """issue 12 hook: django-auth-ldap connects through ``backend.ldap.initialize``; every
        directory call of a sign-in goes through the circuit breaker and shares the sign-in's
        deadline (identity.breaker)."""
        return GUARDED_LDAP

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> User | None:
        # _request: the request django-auth-ldap was given; the reason is recorded on it.
        request: HttpRequest | None = ldap_user._request
        try:
            with (
                ldap_client.held_connection(ldap_client.SERVICE) as service,
                ldap_client.held_connection(ldap_client.USER_BINDS) as binds,
            ):
                account = _directory_account(ldap_user, password, service, binds)
                user = sign_in(request, account, service)
        except ldap_user.AuthenticationFailed as refusal:
            # django-auth-ldap turns an error in the user search into "no such user" after
            # sending ldap_error (note_directory_error); keep that truer reason, and open new
            # connections for the next sign-in.
            if _directory_away(request):
                ldap_client.drop_held_connections()
            else:
                decisions.record(request, _password_policy_answer(refusal) or REFUSALS.get(str(refusal), str(refusal)))
            return None
        except ldap.LDAPError as error:
            note_directory_error(request=request, exception=error)
            return None
        if user is not None:
            # Accepted: the guess is no longer in flight (no signal says so when authenticate() is
            # called without login(); a refusal is settled by the lockout handler).
            throttle.settle_accepted(request)
        return user

    def get_user(self, user_id: int) -> User | None:
        # Permissions come from mirrored Django groups (ModelBackend), so the user needs no
        # django-auth-ldap wrapper; an inactive user is nobody (as ModelBackend answers).
        # Every page view asks this: the read is identity.reads' (no ORM query building).
        user = reads.user(user_id)
        return user if user is not None and user.is_active else None


def sign_in(request: HttpRequest | None, account: accounts.Account, service: Any) -> User | None:
    """The Django user for the account of an entry whose password the directory just accepted, or
    None with the reason recorded. A member who is not active is returned (and saved inactive): the
    sign-in form refuses them, as Django refuses any inactive user. ``service``: a connection bound
    as the service account, to ask, when the person was last seen at another DN, whether another
    live entry holds their stable id (``accounts.save``)."""
    accounts.log_warnings(account)

    def another_entry_holds_the_id(moved_from: str) -> bool:
        # Asked only when the person was last seen at moved_from: a rename, or two live entries
        # with one id. Any live entry but this one holding the id (moved_from, or the renamed
        # holder elsewhere) means the latter: then nobody takes the Django user (ldap_sync skips both).
        found = ldap_client.find_users(service, account.directory_id_attribute, account.directory_id)
        return any(not dn.same_dn(entry_dn, account.dn) for entry_dn, _ in found)

    if not account.mirrored:
        # Left the app group: what ldap_sync would do, now; but not to the Django user of another
        # live entry that holds the same stable id (its own sign-in, session check or sync decides).
        moved_from = accounts.previous_dn(account)
        if not account.refusal and (moved_from is None or not another_entry_holds_the_id(moved_from)):
            accounts.deactivate(account)
        decisions.record(request, account.reason)
        return None
    try:
        return accounts.save(account, another_entry_holds_id=another_entry_holds_the_id)
    except accounts.AccountConflict as conflict:
        reason = str(conflict)
        detail = account.directory_id_attribute if reason == accounts.STABLE_ID_SHARED else account.username
        decisions.record(request, reason, detail=detail)
        return None


# RFC draft-behera-ldap-password-policy 6.2: the response control's error codes that say why a
# bind was refused, in the audit log's words. The person still sees the generic message.
PASSWORD_POLICY_ERRORS = {0: "password expired", 1: "account locked in the directory", 2: "password must be changed"}


@contextlib.contextmanager
def _password_policy_control(connection: Any) -> Iterator[None]:
    """The person's bind carries the password-policy request control (OID 1.3.6.1.4.1.42.2.27.8.5.1,
    not critical), so a directory that locked or expired the account says so in its answer
    (JumpCloud answers it: FACTS.md). Set as the connection's default controls for that bind only."""
    connection.set_option(ldap.OPT_SERVER_CONTROLS, [PasswordPolicyControl(criticality=False)])
    try:
        yield
    finally:
        connection.set_option(ldap.OPT_SERVER_CONTROLS, [])


def _password_policy_answer(refusal: Exception) -> str:
    """Why the directory refused the bind, if its password-policy response control says; else "".
    django-auth-ldap raises its refusal while handling python-ldap's INVALID_CREDENTIALS, which
    carries the response controls (``ctrls``)."""
    error = refusal.__context__
    fields = (
        error.args[0] if isinstance(error, ldap.LDAPError) and error.args and isinstance(error.args[0], dict) else {}
    )
    try:
        answers = DecodeControlTuples(fields.get("ctrls") or [])
    except ldap.LDAPError:
        return ""
    for control in answers:
        if isinstance(control, PasswordPolicyControl) and control.error is not None:
            return PASSWORD_POLICY_ERRORS.get(control.error, f"password policy error {control.error}")
    return ""


def _directory_account(ldap_user: Any, password: str, service: Any, binds: Any) -> accounts.Account:
    """The search, the person's bind and the decision, on this thread's held connections. Raises
    django-auth-ldap's ``AuthenticationFailed`` for an unknown name or a rejected password,
    ``ldap.LDAPError`` when the directory fails, ``throttle.RefusedBeforeTheDirectory`` when the
    name's budget is spent."""
    request: HttpRequest | None = ldap_user._request
    # _connection, _connection_bound: django-auth-ldap searches on the held connection that is
    # bound as the service account (no handshake, no bind per sign-in).
    ldap_user._connection, ldap_user._connection_bound = service, True
    # The service account's search (ldap_user.dn). None: no such user, or the directory failed
    # (then ldap_error has recorded why); asked once (_authenticate_user_dn would search again).
    if ldap_user.dn is None:
        if not _directory_away(request):
            _bind_that_cannot_succeed(binds, password)
        raise ldap_user.AuthenticationFailed(UNKNOWN_USER_REFUSAL)
    entry = accounts.DirectoryEntry.from_ldap(ldap_user.dn, ldap_user.attrs)
    throttle.refuse_service_account_entry(request, entry.dn)
    throttle.check_entry_username(request, accounts.entry_username(entry))
    # _authenticate_user_dn: the person's bind, on the other held connection, without
    # django-auth-ldap's requirement checks and population (identity.accounts does those).
    ldap_user._connection = binds
    with _password_policy_control(binds):
        ldap_user._authenticate_user_dn(password)
    ldap_user._connection, ldap_user._connection_bound = service, True
    return accounts.decide(_with_searched_groups(service, entry))


def _with_searched_groups(service: Any, entry: accounts.DirectoryEntry) -> accounts.DirectoryEntry:
    """The entry with its groups: memberOf as it came, or with ``LDAP_GROUP_SOURCE=search`` the
    groups searched as the service account (users may read only their own entry)."""
    if current().group_source != SEARCH:
        return entry
    return dataclasses.replace(entry, group_dns=tuple(ldap_client.group_dns_of(service, entry.dn)))


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
            throttle.settle_accepted(request)  # issue 12 hook: as in JumpCloudLDAPBackend
            return user
        previous = decisions.recorded(request)
        if previous is None or previous.reason != decisions.USERNAME_TAKEN:  # the directory's is truer
            decisions.record(request, decisions.WRONG_PASSWORD, detail="local account")
        return None


def _bind_that_cannot_succeed(binds: Any, password: str) -> None:
    """issue 12 hook: a name nobody has costs the directory round trip a known name's wrong
    password does (a bind on the people's connection), so the time of the answer does not tell
    them apart. The DN is under the base DN, random, and names nobody: no account's failure
    count moves. Raises the ``breaker.UNREACHABLE`` errors (the directory went away meanwhile: its
    truer answer, and the connection is dropped); any answer of the directory is ignored."""
    nobody_dn = f"cn=nobody-{secrets.token_hex(8)},{current().base_dn}"
    try:
        binds.simple_bind_s(nobody_dn, password)
    except UNREACHABLE:
        raise
    except ldap.LDAPError as answer:
        log.debug("the stand-in bind was answered %s", type(answer).__name__)


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
