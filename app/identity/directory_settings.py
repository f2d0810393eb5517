"""The directory settings: read from the environment once, into one typed object.

``config.settings`` builds ``LDAP_DIRECTORY = DirectorySettings.from_environment()`` and the
``AUTH_LDAP_*`` values django-auth-ldap reads from it. The account decision, the system checks,
``ldap_doctor`` and the status page read the same object through ``current()``: each environment
variable is named here and nowhere else.

JumpCloud serves users and groups side by side under ``ou=Users,o=<ORG_ID>,dc=jumpcloud,dc=com``,
the base DN (JumpCloud, "Using JumpCloud's LDAP-as-a-Service"). The app binds as a user with the
"LDAP Bind DN" role, finds the person by ``uid`` under the base DN, then binds as them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ldap
from config.env import env_bool, env_int, env_secret, env_str
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import LDAPSearch

from identity import dn
from identity.attributes import USERNAME_ATTRIBUTE, fetched_attributes

MEMBEROF, SEARCH = "memberof", "search"
USER_OBJECT_FILTER = "(objectClass=inetOrgPerson)"
GROUP_OBJECT_FILTER = "(objectClass=groupOfNames)"


@dataclass(frozen=True)
class GroupSetting:
    """One configured group: the variable that names it, its value as set, and its DN."""

    variable: str
    value: str
    dn: str


@dataclass(frozen=True)
class DirectorySettings:
    uri: str
    start_tls: bool
    ca_cert_file: str | None
    timeout: int
    base_dn: str
    bind_dn: str
    bind_password: str = field(repr=False)
    group_source: str
    require_group: GroupSetting
    active_group: GroupSetting
    staff_group: GroupSetting
    superuser_group: GroupSetting
    user_id_attribute: str

    @classmethod
    def from_environment(cls) -> DirectorySettings:
        """Every directory setting from its environment variable (README, "Configuration").
        Raises ImproperlyConfigured on a value of the wrong kind; empty or inconsistent values are
        reported by ``identity.checks`` with what to set."""
        base_dn = env_str("LDAP_BASE_DN", "")
        source = env_str("LDAP_GROUP_SOURCE", MEMBEROF)
        if source not in (MEMBEROF, SEARCH):
            raise ImproperlyConfigured(f"LDAP_GROUP_SOURCE must be memberof or search, not {source!r}.")

        def group(variable: str, default: str) -> GroupSetting:
            value = env_str(variable, default)
            return GroupSetting(variable, value, dn.group_dn(value, base_dn))

        return cls(
            uri=env_str("LDAP_URI"),
            start_tls=env_bool("LDAP_START_TLS"),
            ca_cert_file=_ca_cert_file(),
            timeout=env_int("LDAP_TIMEOUT", 5, minimum=1),
            base_dn=base_dn,
            bind_dn=env_str("LDAP_BIND_DN", ""),
            bind_password=env_secret("LDAP_BIND_PASSWORD", ""),
            group_source=source,
            require_group=group("LDAP_REQUIRE_GROUP", "Django App"),
            active_group=group("LDAP_ACTIVE_GROUP", "active"),
            staff_group=group("LDAP_STAFF_GROUP", "staff"),
            superuser_group=group("LDAP_SUPERUSER_GROUP", "superuser"),
            user_id_attribute=env_str("LDAP_USER_ID_ATTRIBUTE", "uidNumber"),
        )

    # -- derived ---------------------------------------------------------------------------

    @property
    def groups(self) -> tuple[GroupSetting, ...]:
        return (self.require_group, self.active_group, self.staff_group, self.superuser_group)

    @property
    def flag_groups(self) -> dict[str, GroupSetting]:
        """Each Django user flag and the group that grants it."""
        return {"is_active": self.active_group, "is_staff": self.staff_group, "is_superuser": self.superuser_group}

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri.split()[0]).scheme.lower() if self.uri else ""

    @property
    def user_attributes(self) -> list[str]:
        return fetched_attributes(self.user_id_attribute)

    def user_filter(self, attribute: str = USERNAME_ATTRIBUTE, value: str = "%(user)s") -> str:
        """The filter for one user entry; ``%(user)s`` is django-auth-ldap's escaped placeholder."""
        if value != "%(user)s":
            value = dn.escape_filter_value(value)
        return f"(&{USER_OBJECT_FILTER}({attribute}={value}))"

    def connection_options(self) -> dict[int, Any]:
        """python-ldap options for every connection. Order matters: OPT_X_TLS_NEWCTX comes last, so
        the TLS options before it go into the context libldap builds for this connection
        (python-ldap docs, "TLS options")."""
        options: dict[int, Any] = {
            ldap.OPT_REFERRALS: 0,
            ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
            ldap.OPT_NETWORK_TIMEOUT: self.timeout,
            ldap.OPT_TIMEOUT: self.timeout,
            ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
        }
        if self.ca_cert_file:
            options[ldap.OPT_X_TLS_CACERTFILE] = self.ca_cert_file
        options[ldap.OPT_X_TLS_NEWCTX] = 0
        return options

    def auth_ldap_settings(self) -> dict[str, Any]:
        """The ``AUTH_LDAP_*`` settings django-auth-ldap reads. It is used for the sign-in's
        connection, search and bind only: requirements, flags, groups and attributes are decided
        by ``identity.accounts``, so none of django-auth-ldap's group settings are set."""
        return {
            "AUTH_LDAP_SERVER_URI": self.uri,
            "AUTH_LDAP_START_TLS": self.start_tls,
            "AUTH_LDAP_CONNECTION_OPTIONS": self.connection_options(),
            "AUTH_LDAP_BIND_DN": self.bind_dn,
            "AUTH_LDAP_BIND_PASSWORD": self.bind_password,
            "AUTH_LDAP_USER_SEARCH": LDAPSearch(
                self.base_dn, ldap.SCOPE_SUBTREE, self.user_filter(), self.user_attributes
            ),
            # No cached DNs or groups: every sign-in reads the directory afresh, and permissions
            # come from the mirrored Django groups (ModelBackend), not from directory look-ups.
            "AUTH_LDAP_CACHE_TIMEOUT": 0,
            "AUTH_LDAP_FIND_GROUP_PERMS": False,
            "AUTH_LDAP_MIRROR_GROUPS": False,
            "AUTH_LDAP_USER_ATTR_MAP": {},
            "AUTH_LDAP_ALWAYS_UPDATE_USER": False,
        }


def _ca_cert_file() -> str | None:
    path = env_str("LDAP_CA_CERT_FILE", "")
    if path and not os.access(path, os.R_OK):
        raise ImproperlyConfigured(f"LDAP_CA_CERT_FILE names {path}, which does not exist or cannot be read.")
    return path or None


def settings_for_django(directory: DirectorySettings) -> dict[str, Any]:
    """What ``config.settings`` (and a test's ``override_settings``) sets for ``directory``."""
    return {"LDAP_DIRECTORY": directory, **directory.auth_ldap_settings()}


def current() -> DirectorySettings:
    """The directory settings in force (``settings.LDAP_DIRECTORY``)."""
    directory: DirectorySettings = getattr(settings, "LDAP_DIRECTORY")  # noqa: B009 - set from a dict, unseen by django-stubs
    return directory
