"""System checks for the directory settings: a bad staging configuration stops ``migrate`` (run at
every start) and ``manage.py check`` with a sentence that says what to fix."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ldap.dn
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from identity.directory_settings import configured_groups, ldap_setting

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register("identity")
def check_directory_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    base_dn = ldap_setting("USER_SEARCH").base_dn
    bind_dn, bind_password = ldap_setting("BIND_DN"), ldap_setting("BIND_PASSWORD")
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
    elif not bind_password:
        errors.append(
            Error(
                f"LDAP_BIND_DN is {bind_dn}, but LDAP_BIND_PASSWORD is empty.",
                hint="Set LDAP_BIND_PASSWORD, or LDAP_BIND_PASSWORD_FILE to a file that holds it.",
                id="identity.E003",
            )
        )
    if base_dn:
        groups = configured_groups()
        for variable, group in groups.items():
            if not _is_under(group, base_dn):
                errors.append(
                    Error(
                        f"{variable} names the group {group}, which is outside LDAP_BASE_DN ({base_dn}).",
                        hint="JumpCloud serves groups beside the users, in ou=Users: give the group's name only.",
                        id="identity.E004",
                    )
                )
    uri = urlsplit(ldap_setting("SERVER_URI"))
    if (
        not settings.DEBUG
        and uri.scheme == "ldap"
        and uri.hostname not in LOCAL_HOSTS
        and not ldap_setting("START_TLS")
    ):
        errors.append(
            Error(
                f"LDAP_URI {ldap_setting('SERVER_URI')} sends passwords in clear to another host.",
                hint="Use ldaps://ldap.jumpcloud.com:636, or set LDAP_START_TLS=true.",
                id="identity.E005",
            )
        )
    return errors


def _is_under(dn: str, base_dn: str) -> bool:
    try:
        parts, base = ldap.dn.str2dn(dn.lower()), ldap.dn.str2dn(base_dn.lower())
    except ldap.DECODING_ERROR:
        return False
    return len(parts) > len(base) and parts[-len(base) :] == base
