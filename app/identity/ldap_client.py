"""The app's reads of the directory as the service account: one connection recipe, and searches that
are paged and skip referrals. The sign-in's own search and bind go through django-auth-ldap
(``identity.backends``); everything else (revalidation, ``ldap_sync``, ``ldap_doctor``, the status
page) reads here.

Shapes: an entry is ``(dn, attrs)`` with ``attrs`` a dict of attribute name to a list of ``bytes``
values, as python-ldap returns them (``identity.accounts.DirectoryEntry`` decodes them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import ldap
from ldap.controls import SimplePagedResultsControl

from identity import dn
from identity.directory_settings import GROUP_OBJECT_FILTER, DirectorySettings, current

log = logging.getLogger(__name__)

# Entries per page (RFC 2696). Below every server's default size limit (OpenLDAP's 500).
PAGE_SIZE = 500

RawEntry = tuple[str, dict[str, list[bytes]]]


def service_connection(
    directory: DirectorySettings | None = None, *, initialize: Callable[[str], Any] = ldap.initialize
) -> Any:
    """A new connection with the app's options (TLS verified), StartTLS if set, bound as the
    service account. Raises python-ldap's errors as they come (``ldap.LDAPError`` subclasses).
    ``initialize``: issue 12 hook, the session check connects through identity.breaker's."""
    directory = directory or current()
    connection = initialize(directory.uri)
    for option, value in directory.connection_options().items():
        connection.set_option(option, value)
    if directory.start_tls:
        connection.start_tls_s()
    connection.simple_bind_s(directory.bind_dn, directory.bind_password)
    return connection


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


def holds_id(connection: Any, entry_dn: str, attribute: str, value: str) -> bool:
    """Whether the entry ``entry_dn`` exists and its ``attribute`` is ``value`` (a base search)."""
    filterstr = f"({attribute}={dn.escape_filter_value(value)})"
    try:
        found = connection.search_s(entry_dn, ldap.SCOPE_BASE, filterstr, ["1.1"])
    except ldap.NO_SUCH_OBJECT:
        return False
    return any(bool(found_dn) for found_dn, _ in found)


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
