"""The app's reads of the directory as the service account: one connection recipe, and searches that
are paged and skip referrals. The sign-in's own search and bind go through django-auth-ldap
(``identity.backends``); everything else (revalidation, ``ldap_sync``, ``ldap_doctor``, the status
page) reads here.

Shapes: an entry is ``(dn, attrs)`` with ``attrs`` a dict of attribute name to a list of ``bytes``
values, as python-ldap returns them (``identity.accounts.DirectoryEntry`` decodes them).

Connections: ``held_connection`` lends each thread two connections, kept between sign-ins and
session checks (a gunicorn worker has ``GUNICORN_THREADS`` threads): ``SERVICE``, bound as the
service account, for searches, and ``USER_BINDS``, for the people's own binds. So a sign-in pays
neither a TCP and TLS handshake nor a bind back to the service account: it is one search and one
bind. Both connect through ``identity.breaker`` (circuit breaker, one deadline per sign-in).
``service_connection`` makes a new one, for the long reads (``ldap_sync``) and the checks
(``ldap_doctor``, the status page) that want the directory's own answer on a fresh connection.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import ldap
from ldap.controls import SimplePagedResultsControl

from identity import breaker, dn
from identity.directory_settings import GROUP_OBJECT_FILTER, DirectorySettings, current

log = logging.getLogger(__name__)

# Entries per page (RFC 2696). Below every server's default size limit (OpenLDAP's 500).
PAGE_SIZE = 500

RawEntry = tuple[str, dict[str, list[bytes]]]

# A held connection idle longer than this (seconds) is replaced rather than reused: a load balancer
# or NAT on the way to JumpCloud may drop an idle connection silently, and an operation on such a
# socket would wait until the sign-in's deadline before failing. Under load none gets this old.
MAX_IDLE_SECONDS = 30.0

# What a held connection is for. SERVICE: bound as the service account, for searches; never bound
# as anyone else, so a use needs no bind. USER_BINDS: the people's own binds at sign-in and nothing
# else (it is left bound as whoever signed in last, or anonymous after a refusal).
SERVICE, USER_BINDS = "service", "user binds"


class _Held(threading.local):
    """This thread's connections between uses, by purpose: ``(connection, key, idle_since)``, with
    ``key`` the (process id, settings) it was made for and ``idle_since`` a ``time.monotonic()``."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[Any, tuple[int, DirectorySettings], float]] = {}


_held = _Held()


def open_connection(
    directory: DirectorySettings | None = None, *, initialize: Callable[[str], Any] = ldap.initialize
) -> Any:
    """A new connection with the app's options (TLS verified), StartTLS if set, not bound.
    Raises python-ldap's errors as they come (``ldap.LDAPError`` subclasses). ``initialize``:
    python-ldap's, or ``identity.breaker.GUARDED_LDAP.initialize`` for the request path."""
    directory = directory or current()
    connection = initialize(directory.uri)
    for option, value in directory.connection_options().items():
        connection.set_option(option, value)
    if directory.start_tls:
        connection.start_tls_s()
    return connection


def service_connection(
    directory: DirectorySettings | None = None, *, initialize: Callable[[str], Any] = ldap.initialize
) -> Any:
    """A new connection (``open_connection``) bound as the service account. Raises
    ``ldap.LDAPError`` subclasses as they come."""
    directory = directory or current()
    connection = open_connection(directory, initialize=initialize)
    connection.simple_bind_s(directory.bind_dn, directory.bind_password)
    return connection


@contextmanager
def held_connection(purpose: str = SERVICE, directory: DirectorySettings | None = None) -> Iterator[Any]:
    """This thread's connection for ``purpose`` (``SERVICE``: bound as the service account;
    ``USER_BINDS``: for people's binds) for the length of the block, connected through
    ``identity.breaker`` (every call is guarded and shares the deadline of the caller's
    ``breaker.deadline()``).

    Reused when it was made in this process for the same settings, has been idle less than
    ``MAX_IDLE_SECONDS``, and the server has not closed it. An idle connection has nothing to read,
    so a readable socket means the server closed it (a restart, ``olcIdleTimeout``, a Notice of
    Disconnection, RFC 4511 4.4.1): a new one is made before anything is sent, so the check costs no
    round trip and no password is ever sent twice. A slow or unreachable directory is not retried:
    the caller learns at once, within its deadline.

    Raises ``ldap.LDAPError`` subclasses from connecting or binding. An ``ldap.LDAPError`` out of the
    block drops the connection (its state is unknown), as does ``drop_held_connections()`` for an
    error the caller handled; anything else keeps it for the thread's next use. A nested use for
    the same purpose gets a connection of its own."""
    directory = directory or current()
    key = (os.getpid(), directory)
    connection = None
    kept = _held.kept.pop(purpose, None)
    if kept is not None:
        if kept[1] == key and time.monotonic() - kept[2] < MAX_IDLE_SECONDS and not _closed_by_server(kept[0]):
            connection = kept[0]
        else:
            _close(kept[0])
    if connection is None:
        initialize = breaker.GUARDED_LDAP.initialize
        connection = (
            service_connection(directory, initialize=initialize)
            if purpose == SERVICE
            else open_connection(directory, initialize=initialize)
        )
    broken = False
    try:
        yield connection
    except ldap.LDAPError:
        broken = True
        raise
    finally:
        if broken:
            _close(connection)
        else:
            _keep(purpose, connection, key)


def drop_held_connections() -> None:
    """Close and forget this thread's held connections: an error on one was handled without
    raising (django-auth-ldap reports a failed search by signal, not by exception)."""
    for connection, _, _ in _held.kept.values():
        _close(connection)
    _held.kept.clear()


def _keep(purpose: str, connection: Any, key: tuple[int, DirectorySettings]) -> None:
    nested = _held.kept.get(purpose)
    if nested is not None:  # a nested use kept its own: keep one
        _close(nested[0])
    _held.kept[purpose] = (connection, key, time.monotonic())


def _closed_by_server(connection: Any) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it, or said it
    would, or answers arrived that nobody read. Never waits (select with timeout 0)."""
    try:
        descriptor = connection.get_option(ldap.OPT_DESC)
        readable, _, _ = select.select([descriptor], [], [], 0)
    except (ldap.LDAPError, OSError, ValueError):
        return True
    return bool(readable)


def _close(connection: Any) -> None:
    """Close without waiting for an answer: the connection may be broken or its server hung."""
    with suppress(ldap.LDAPError):
        connection.unbind_ext()


def paged_search(
    connection: Any, base_dn: str, scope: int, filterstr: str, attrlist: list[str] | None, *, page_size: int = PAGE_SIZE
) -> Iterator[RawEntry]:
    """Every entry the search finds, one page at a time (RFC 2696 simple paged results), so a
    result larger than the server's size limit is read whole. Search continuations and referrals
    (RFC 4511 4.5.3: results without a DN) are skipped with a debug line. Raises ``ldap.LDAPError``.

    The next page is asked for before a page is handed out, so the server reads it (and the
    network carries it) while the caller works on this one: ``ldap_sync`` decides a page of 500
    entries in about 30 ms, which a directory across the internet would otherwise add to each
    page's round trip."""
    control = SimplePagedResultsControl(True, size=page_size, cookie=b"")
    msgid: int | None = connection.search_ext(base_dn, scope, filterstr, attrlist, serverctrls=[control])
    while msgid is not None:
        _, results, _, response_controls = connection.result3(msgid)
        cookies = [c.cookie for c in response_controls if c.controlType == SimplePagedResultsControl.controlType]
        msgid = None
        if cookies and cookies[0]:
            control.cookie = cookies[0]
            msgid = connection.search_ext(base_dn, scope, filterstr, attrlist, serverctrls=[control])
        try:
            for entry_dn, attrs in results:
                if not entry_dn or not isinstance(attrs, dict):
                    log.debug("skipped a search reference under %s: %s", base_dn, attrs)
                    continue
                yield entry_dn, attrs
        except GeneratorExit:  # the caller stopped early: the page asked for is not wanted
            if msgid is not None:
                connection.abandon(msgid)
            raise


def find_users(
    connection: Any, attribute: str, value: str, directory: DirectorySettings | None = None
) -> list[RawEntry]:
    """The user entries under the base DN whose ``attribute`` is ``value`` (escaped here), with the
    attributes the account decision reads."""
    directory = directory or current()
    return list(
        paged_search(
            connection,
            directory.base_dn,
            ldap.SCOPE_SUBTREE,
            directory.user_filter(attribute, value),
            directory.user_attributes,
        )
    )


def find_user(
    connection: Any, attribute: str, value: str, directory: DirectorySettings | None = None
) -> RawEntry | None:
    """The one user entry whose ``attribute`` is ``value``; None when there is none or more than one."""
    found = find_users(connection, attribute, value, directory)
    return found[0] if len(found) == 1 else None


def group_dns_of(connection: Any, user_dn: str, directory: DirectorySettings | None = None) -> list[str]:
    """With ``LDAP_GROUP_SOURCE=search``: the DNs of the groupOfNames entries under the base DN
    that list ``user_dn`` as a ``member`` (one paged search; DNs only)."""
    directory = directory or current()
    filterstr = f"(&{GROUP_OBJECT_FILTER}(member={dn.escape_filter_value(user_dn)}))"
    return [group for group, _ in paged_search(connection, directory.base_dn, ldap.SCOPE_SUBTREE, filterstr, ["1.1"])]


def all_group_memberships(connection: Any, directory: DirectorySettings | None = None) -> dict[Any, list[str]]:
    """With ``LDAP_GROUP_SOURCE=search``: every member's group DNs, keyed by the member DN's
    comparable form (``dn.dn_key``), from one paged search of the groups."""
    directory = directory or current()
    memberships: dict[Any, list[str]] = {}
    for group, attrs in paged_search(
        connection, directory.base_dn, ldap.SCOPE_SUBTREE, GROUP_OBJECT_FILTER, ["member"]
    ):
        for member in attrs.get("member", []):
            key = dn.dn_key(member.decode("utf-8", "replace"))
            if key is not None:
                memberships.setdefault(key, []).append(group)
    return memberships
