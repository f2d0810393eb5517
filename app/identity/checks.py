"""System checks for the directory settings: a bad staging configuration stops ``migrate`` (run at
every start) and ``manage.py check`` with a sentence that says what to fix."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from identity import dn
from identity.directory_settings import current

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register("identity")
def check_directory_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    directory = current()
    base_dn, bind_dn = directory.base_dn, directory.bind_dn
    if not base_dn:
        errors.append(
            Error(
                "LDAP_BASE_DN is empty.",
                hint="Set it to ou=Users,o=<ORG_ID>,dc=jumpcloud,dc=com; the org id is in the JumpCloud console.",
                id="identity.E001",
            )
        )
    if not bind_dn:
        errors.append(
            Error(
                "LDAP_BIND_DN is empty, and JumpCloud does not allow anonymous binds.",
                hint='Set it to a JumpCloud user with "Enable as LDAP Bind DN": uid=<name>,<base DN>.',
                id="identity.E002",
            )
        )
    elif not directory.bind_password:
        errors.append(
            Error(
                f"LDAP_BIND_DN is {bind_dn}, but LDAP_BIND_PASSWORD is empty.",
                hint="Set LDAP_BIND_PASSWORD, or LDAP_BIND_PASSWORD_FILE to a file that holds it.",
                id="identity.E003",
            )
        )
    if base_dn:
        for group in directory.groups:
            # A value is a DN only when it ends with the base DN; anything else is a group's name
            # (identity.dn.group_dn). A value that reads as a DN elsewhere is most likely a mistake.
            rdns = dn.parse(group.value)
            if rdns is not None and len(rdns) > 1 and not dn.is_under(group.value, base_dn):
                errors.append(
                    Warning(
                        f"{group.variable} is {group.value!r}, which reads as a DN outside LDAP_BASE_DN ({base_dn}); "
                        f"it is taken as a group's name: {group.dn}.",
                        hint="JumpCloud serves groups beside the users, in ou=Users: give the group's name only.",
                        id="identity.W004",
                    )
                )
    uri = urlsplit(directory.uri)
    if not settings.DEBUG and uri.scheme == "ldap" and uri.hostname not in LOCAL_HOSTS and not directory.start_tls:
        errors.append(
            Error(
                f"LDAP_URI {directory.uri} sends passwords in clear to another host.",
                hint="Use ldaps://ldap.jumpcloud.com:636, or set LDAP_START_TLS=true.",
                id="identity.E005",
            )
        )
    if directory.scheme == "ldaps" and directory.start_tls:
        errors.append(
            Error(
                f"LDAP_URI {directory.uri} is already TLS (ldaps://), and LDAP_START_TLS=true asks for TLS again: "
                "every sign-in would fail.",
                hint="Set LDAP_START_TLS=false with ldaps://ldap.jumpcloud.com:636, "
                "or use ldap://ldap.jumpcloud.com:389 with LDAP_START_TLS=true.",
                id="identity.E006",
            )
        )
    return errors
