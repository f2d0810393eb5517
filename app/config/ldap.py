"""django-auth-ldap settings for a JumpCloud directory, from environment variables only.

JumpCloud serves users and groups side by side under ``ou=Users,o=<ORG_ID>,dc=jumpcloud,dc=com``:
the base DN. The app binds as a user with JumpCloud's "LDAP Bind DN" role, finds the person by
``uid`` under the base DN, then binds as them. A group named ``X`` is ``cn=X,<base DN>``.
"""

from __future__ import annotations

import os
from typing import Any

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import GroupOfNamesType, LDAPGroupType, LDAPSearch
from identity.groups import MemberOfGroupType

from config.env import env_bool, env_int, env_secret, env_str

# Attributes fetched with the user's entry: what the profile maps, plus memberOf. Naming them
# keeps the search small and guarantees userPassword is never asked for.
USER_ATTRIBUTES = [
    "uid",
    "givenName",
    "sn",
    "mail",
    "initials",
    "displayName",
    "title",
    "departmentNumber",
    "businessCategory",
    "physicalDeliveryOfficeName",
    "employeeNumber",
    "employeeType",
    "company",
    "description",
    "mobile",
    "memberOf",
]


def group_dn(name: str, base_dn: str) -> str:
    """The DN of the JumpCloud group called ``name``: ``cn=<name>,<base DN>``. A value that is
    already a DN (``cn=...,ou=...``) is taken as it is."""
    if "=" in name and ldap.dn.is_dn(name):
        return name
    return f"cn={ldap.dn.escape_dn_chars(name)},{base_dn}"


def connection_options(timeout: int, ca_cert_file: str | None) -> dict[int, Any]:
    """python-ldap options for every connection. Order matters: OPT_X_TLS_NEWCTX comes last, so
    the TLS options before it go into the context libldap builds for this connection."""
    options: dict[int, Any] = {
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
    }
    if ca_cert_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_cert_file
    options[ldap.OPT_X_TLS_NEWCTX] = 0
    return options


def ca_cert_file() -> str | None:
    path = env_str("LDAP_CA_CERT_FILE", "")
    if path and not os.access(path, os.R_OK):
        raise ImproperlyConfigured(f"LDAP_CA_CERT_FILE names {path}, which does not exist or cannot be read.")
    return path or None


def group_type() -> LDAPGroupType:
    """Where a user's groups come from: their entry's memberOf (JumpCloud has it), or a search."""
    source = env_str("LDAP_GROUP_SOURCE", "memberof")
    if source == "memberof":
        return MemberOfGroupType(name_attr="cn")
    if source == "search":
        return GroupOfNamesType(name_attr="cn")
    raise ImproperlyConfigured(f"LDAP_GROUP_SOURCE must be memberof or search, not {source!r}.")


def auth_ldap_settings() -> dict[str, Any]:
    """Every ``AUTH_LDAP_*`` setting, read from the environment."""
    # Empty values are reported by identity.checks with what to set, rather than failing here.
    base_dn = env_str("LDAP_BASE_DN", "")
    timeout = env_int("LDAP_TIMEOUT", 5, minimum=1)
    groups = {
        "require": env_str("LDAP_REQUIRE_GROUP", "Django App"),
        "active": env_str("LDAP_ACTIVE_GROUP", "active"),
        "staff": env_str("LDAP_STAFF_GROUP", "staff"),
        "superuser": env_str("LDAP_SUPERUSER_GROUP", "superuser"),
    }
    return {
        "AUTH_LDAP_SERVER_URI": env_str("LDAP_URI"),
        "AUTH_LDAP_START_TLS": env_bool("LDAP_START_TLS"),
        "AUTH_LDAP_CONNECTION_OPTIONS": connection_options(timeout, ca_cert_file()),
        "AUTH_LDAP_BIND_DN": env_str("LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": env_secret("LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(
            base_dn, ldap.SCOPE_SUBTREE, "(&(objectClass=inetOrgPerson)(uid=%(user)s))", USER_ATTRIBUTES
        ),
        # When the DN comes from the cache (another replica's concurrent sign-in of the same person
        # filled it through Redis), django-auth-ldap reads the entry again by DN: with these
        # attributes, memberOf included; without them, "*" omits memberOf and the person is
        # refused as "not in the app group".
        "AUTH_LDAP_USER_ATTRLIST": USER_ATTRIBUTES,
        "AUTH_LDAP_GROUP_SEARCH": LDAPSearch(base_dn, ldap.SCOPE_ONELEVEL, "(objectClass=groupOfNames)"),
        "AUTH_LDAP_GROUP_TYPE": group_type(),
        "AUTH_LDAP_REQUIRE_GROUP": group_dn(groups["require"], base_dn),
        "AUTH_LDAP_USER_FLAGS_BY_GROUP": {
            "is_active": group_dn(groups["active"], base_dn),
            "is_staff": group_dn(groups["staff"], base_dn),
            "is_superuser": group_dn(groups["superuser"], base_dn),
        },
        # Attributes are copied by identity.directory from one table, so none are mapped here.
        "AUTH_LDAP_USER_ATTR_MAP": {},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_MIRROR_GROUPS": True,
        "AUTH_LDAP_FIND_GROUP_PERMS": True,
        # Permission checks between sign-ins read group names from this cache; a sign-in always
        # reads the directory (identity.backends.JumpCloudLDAPBackend).
        "AUTH_LDAP_CACHE_TIMEOUT": env_int("LDAP_CACHE_TIMEOUT", 300),
    }
