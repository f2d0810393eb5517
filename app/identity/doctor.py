"""``manage.py ldap_doctor``: the directory settings checked step by step, each failure with its fix.

Each check returns a ``Finding``; later checks that need an earlier one to pass are skipped. The
TLS check speaks to the server itself (with StartTLS on an ldap:// URI) so it can report the
certificate: issuer, expiry, and whether it names the host.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import ldap
from django.conf import settings

from identity import accounts, dn, ldap_client
from identity.attributes import ATTRIBUTE_MAP, USERNAME_ATTRIBUTE
from identity.directory_settings import SEARCH, current

OK, FAIL, WARN, SKIP = "OK", "FAIL", "WARN", "SKIP"
# An LDAP ExtendedRequest for StartTLS (RFC 4511 4.14.1), message id 1.
STARTTLS_REQUEST = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16" + b"1.3.6.1.4.1.1466.20037"


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    text: str
    fix: str = ""


def _org_hint(entry_dn: str) -> str:
    rdns = dn.parse(entry_dn) or []
    organisations = [value for rdn in rdns for attribute, value, _ in rdn if attribute.lower() == "o"]
    return f" (org id {organisations[0]})" if organisations else ""


class Doctor:
    def __init__(self, username: str | None = None) -> None:
        self.username = username
        self.directory = current()
        self.uri = self.directory.uri.split()[0]
        parts = urlsplit(self.uri)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (636 if self.scheme == "ldaps" else 389)
        self.start_tls = self.directory.start_tls
        self.timeout = float(self.directory.timeout)
        self.ca_file = self.directory.ca_cert_file
        self.base_dn = self.directory.base_dn
        self.connection: Any = None

    def run(self) -> Iterator[Finding]:
        """The checks in order; each needs the ones before it."""
        checks = (self.check_scheme, self.check_address, self.check_tls, self.check_bind, self.check_base_dn)
        for check in checks:
            finding = check()
            yield finding
            if finding.status == FAIL:
                yield Finding(SKIP, "the rest", "skipped until the failure above is fixed")
                return
        yield from self.check_groups()
        yield self.local_accounts()
        if self.username:
            yield from self.check_user(self.username)

    # -- the checks, in order ---------------------------------------------------------------

    def check_scheme(self) -> Finding:
        if self.scheme == "ldaps" and self.start_tls:
            return Finding(
                FAIL,
                "TLS settings",
                f"LDAP_URI {self.uri} is already TLS, and LDAP_START_TLS=true asks for TLS again (libldap: "
                "TLS already started): every sign-in fails",
                "Set LDAP_START_TLS=false with ldaps:// (port 636), "
                "or use ldap:// (port 389) with LDAP_START_TLS=true.",
            )
        if self.scheme not in ("ldap", "ldaps"):
            return Finding(FAIL, "TLS settings", f"LDAP_URI {self.uri} is not an ldap:// or ldaps:// URI")
        how = "ldaps" if self.scheme == "ldaps" else ("StartTLS" if self.start_tls else "none")
        return Finding(OK, "TLS settings", f"{self.scheme}:// with TLS: {how}")

    def check_address(self) -> Finding:
        name = f"{self.host}:{self.port}"
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)}
        except socket.gaierror as error:
            return Finding(
                FAIL,
                "address",
                f"{self.host} does not resolve ({error.strerror})",
                "Check the host name in LDAP_URI: JumpCloud's is ldap.jumpcloud.com.",
            )
        started = time.monotonic()
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout):
                pass
        except OSError as error:
            return Finding(
                FAIL,
                "address",
                f"nothing answers on {name} ({error.strerror or error})",
                "Check the port in LDAP_URI (636 for ldaps://, 389 for ldap://) and that this host may reach it.",
            )
        elapsed = (time.monotonic() - started) * 1000
        return Finding(
            OK, "address", f"{name} resolves to {', '.join(sorted(map(str, addresses)))} and answers ({elapsed:.0f} ms)"
        )

    def check_tls(self) -> Finding:
        if self.scheme == "ldap" and not self.start_tls:
            status = OK if self.host in ("localhost", "127.0.0.1", "::1") else FAIL
            return Finding(
                status,
                "TLS",
                "none: passwords would travel in clear",
                "" if status == OK else "Use ldaps://ldap.jumpcloud.com:636, or set LDAP_START_TLS=true.",
            )
        context = ssl.create_default_context(cafile=self.ca_file)
        how = "ldaps" if self.scheme == "ldaps" else "StartTLS"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
                if how == "StartTLS":
                    raw.sendall(STARTTLS_REQUEST)
                    answer = raw.recv(256)
                    if b"\x0a\x01\x00" not in answer[:16]:
                        return Finding(
                            FAIL,
                            "TLS",
                            f"{self.host} refused StartTLS",
                            "Use ldaps:// on port 636, or a server that offers StartTLS.",
                        )
                with context.wrap_socket(raw, server_hostname=self.host) as tls:
                    certificate = tls.getpeercert() or {}
        except ssl.SSLCertVerificationError as error:
            ca = f"the CA in {self.ca_file}" if self.ca_file else "the system's CAs"
            return Finding(
                FAIL,
                "TLS",
                f"{how}: the certificate is not trusted: {error.verify_message}",
                f"The certificate must chain to {ca} and name {self.host}: "
                "set LDAP_CA_CERT_FILE to the CA that signed it.",
            )
        except (OSError, ssl.SSLError) as error:
            return Finding(FAIL, "TLS", f"{how} handshake failed: {error}", "Check LDAP_URI's scheme and port.")
        issuer: dict[str, str] = {name: value for ((name, value), *_) in certificate.get("issuer", ())}  # type: ignore[str-unpack]
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(certificate["notAfter"])), UTC)
        days = (expires - datetime.now(UTC)).days
        text = (
            f"{how}, certificate issued by {issuer.get('organizationName') or issuer.get('commonName', '?')}, "
            f"valid until {expires:%Y-%m-%d} ({days} days), host name {self.host} checked"
        )
        if days < 14:
            return Finding(WARN, "TLS", text, "The certificate expires soon.")
        return Finding(OK, "TLS", text)

    def check_bind(self) -> Finding:
        bind_dn = self.directory.bind_dn
        try:
            self.connection = ldap_client.service_connection(self.directory)
        except ldap.INVALID_CREDENTIALS:
            return Finding(
                FAIL,
                "service account",
                f"the directory refused {bind_dn}",
                "Check LDAP_BIND_PASSWORD, and in JumpCloud that this user exists in your org"
                f"{_org_hint(bind_dn)}, is bound to the LDAP directory and has 'Enable as LDAP Bind DN'.",
            )
        except ldap.LDAPError as error:
            return Finding(
                FAIL,
                "service account",
                f"binding as {bind_dn} failed: {type(error).__name__}",
                "Check LDAP_BIND_DN: uid=<name>,ou=Users,o=<ORG_ID>,dc=jumpcloud,dc=com.",
            )
        return Finding(OK, "service account", f"{bind_dn} binds")

    def check_base_dn(self) -> Finding:
        try:
            self.connection.search_s(self.base_dn, ldap.SCOPE_BASE, attrlist=["1.1"])
        except ldap.NO_SUCH_OBJECT:
            return Finding(
                FAIL,
                "base DN",
                f"{self.base_dn} does not exist",
                "LDAP_BASE_DN must be ou=Users,o=<ORG_ID>,dc=jumpcloud,dc=com with your org id"
                f"{_org_hint(self.base_dn)} as shown under Settings in the JumpCloud console.",
            )
        except ldap.LDAPError as error:
            return Finding(FAIL, "base DN", f"reading {self.base_dn} failed: {type(error).__name__}")
        return Finding(OK, "base DN", f"{self.base_dn} exists")

    def check_groups(self) -> Iterator[Finding]:
        for group in self.directory.groups:
            try:
                [(_, attrs)] = self.connection.search_s(group.dn, ldap.SCOPE_BASE, attrlist=["member"])
            except ldap.NO_SUCH_OBJECT:
                yield Finding(
                    FAIL,
                    f"group {group.variable}",
                    f"{group.dn} does not exist",
                    "In JumpCloud, create the group, add members and bind it to the LDAP directory "
                    "(a group appears in LDAP only then), or set the variable to an existing group's name.",
                )
                continue
            except ldap.LDAPError as error:
                yield Finding(FAIL, f"group {group.variable}", f"reading {group.dn} failed: {type(error).__name__}")
                continue
            members = len(attrs.get("member", []))
            status = OK if members else WARN
            yield Finding(status, f"group {group.variable}", f"{group.dn}: {members} member{'s' * (members != 1)}")

    def local_accounts(self) -> Finding:
        if settings.AUTH_LOCAL_ACCOUNTS:
            return Finding(OK, "local accounts", "allowed: Django's own accounts (break-glass) can sign in too")
        return Finding(OK, "local accounts", "off (AUTH_LOCAL_ACCOUNTS=false): only directory users can sign in")

    def check_user(self, username: str) -> Iterator[Finding]:
        """What ``username`` would get at sign-in, without their password (the service account
        reads): the decision ``identity.accounts`` makes at sign-in, sync and revalidation."""
        name = f"user {username}"
        try:
            found = ldap_client.find_user(self.connection, USERNAME_ATTRIBUTE, username, self.directory)
            group_dns = None
            if found is not None and self.directory.group_source == SEARCH:
                group_dns = ldap_client.group_dns_of(self.connection, found[0], self.directory)
        except ldap.LDAPError as error:
            yield Finding(FAIL, name, f"searching for {username} failed: {type(error).__name__}")
            return
        if found is None:
            yield Finding(
                FAIL,
                name,
                f"no user with uid={username} under {self.base_dn}",
                "In JumpCloud, check the username and that the user is bound to the LDAP directory.",
            )
            return
        entry = accounts.DirectoryEntry.from_ldap(found[0], found[1], group_dns)
        account = accounts.decide(entry, self.directory)
        yield Finding(OK, name, f"found: {found[0]}")
        fixes = {
            accounts.NOT_IN_APP_GROUP: "Add the user to the app group in JumpCloud.",
            accounts.INACTIVE: "Add the user to the active group in JumpCloud.",
            accounts.NO_STABLE_ID: f"The entry has no {self.directory.user_id_attribute}: "
            "check LDAP_USER_ID_ATTRIBUTE.",
            accounts.USERNAME_TOO_LONG: "Give the user a shorter username in JumpCloud (at most 150 characters).",
        }
        try:
            twins = bool(account.directory_id) and (
                len(
                    ldap_client.find_users(
                        self.connection, account.directory_id_attribute, account.directory_id, self.directory
                    )
                )
                > 1
            )
        except ldap.LDAPError:
            twins = False
        # As the sign-in decides: the entry the Django user was last seen as keeps it (or, before
        # anyone signed in, the first of them to); the other is refused.
        shared = twins and accounts.previous_dn(account) is not None
        if twins and not shared:
            yield Finding(
                WARN,
                name,
                f"another entry has {account.directory_id_attribute}={account.directory_id}; "
                "this one keeps the Django user it was last seen as, the other is refused",
                "Give each person their own id in JumpCloud.",
            )
        refusal = accounts.STABLE_ID_SHARED if shared else (accounts.conflict(account) if account.mirrored else "")
        fixes[accounts.STABLE_ID_SHARED] = (
            f"Another entry has {account.directory_id_attribute}={account.directory_id}: give each person their own."
        )
        fixes[accounts.USERNAME_TAKEN] = (
            f"A local Django account is called {account.username}: "
            "rename or delete it, or rename the person in JumpCloud."
        )
        if refusal:
            yield Finding(FAIL, name, f"would be refused: {refusal}", fixes[refusal])
        elif account.allowed:
            yield Finding(OK, name, f"would be allowed to sign in as {account.username}")
        elif account.reason == accounts.NOT_IN_APP_GROUP:
            yield Finding(
                FAIL, name, f"would be refused: not in {self.directory.require_group.dn}", fixes[account.reason]
            )
        else:
            yield Finding(FAIL, name, f"would be refused: {account.reason}", fixes.get(account.reason, ""))
        yield Finding(OK, name, f"stable id ({self.directory.user_id_attribute}): {account.directory_id or '-'}")
        yield Finding(OK, name, "flags: " + ", ".join(f"{flag}={value}" for flag, value in account.flags.items()))
        yield Finding(OK, name, "groups: " + (", ".join(sorted(account.groups)) or "none"))
        for warning in account.warnings:
            yield Finding(WARN, name, warning)
        for _, field, attribute in ATTRIBUTE_MAP:
            yield Finding(OK, name, f"{field} ({attribute}): {entry.first(attribute) or '-'}")
