"""The directory settings in force, read back: the ``AUTH_LDAP_*`` values config.ldap made from the
environment, the groups they name, and a connection bound as the service account with them."""

from __future__ import annotations

from typing import Any

import ldap
from django.conf import settings

# The environment variable behind each django-auth-ldap flag group.
FLAG_VARIABLES = {
    "is_active": "LDAP_ACTIVE_GROUP",
    "is_staff": "LDAP_STAFF_GROUP",
    "is_superuser": "LDAP_SUPERUSER_GROUP",
}


def ldap_setting(name: str) -> Any:
    """``AUTH_LDAP_<name>``; settings.py sets them from config.ldap, out of a static checker's sight."""
    return getattr(settings, f"AUTH_LDAP_{name}")


def configured_groups() -> dict[str, str]:
    """Each configured group's DN, by the environment variable that names it."""
    groups = {"LDAP_REQUIRE_GROUP": ldap_setting("REQUIRE_GROUP")}
    for flag, group in ldap_setting("USER_FLAGS_BY_GROUP").items():
        groups[FLAG_VARIABLES.get(flag, flag)] = group
    return groups


def service_connection() -> Any:
    """A new connection with the app's options (TLS verified), StartTLS if set, bound as the
    service account. Raises python-ldap's errors as they come."""
    connection = ldap.initialize(ldap_setting("SERVER_URI"))
    for option, value in ldap_setting("CONNECTION_OPTIONS").items():
        connection.set_option(option, value)
    if ldap_setting("START_TLS"):
        connection.start_tls_s()
    connection.simple_bind_s(ldap_setting("BIND_DN"), ldap_setting("BIND_PASSWORD"))
    return connection
