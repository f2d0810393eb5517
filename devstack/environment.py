"""The environment that points the app at a directory: what a deployment sets (deploy/env/local.env
does it for the demo's directory), for one directory of this machine."""

from __future__ import annotations

from typing import Protocol

from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN


class Directory(Protocol):
    """What is needed of a running directory: its ldap:// URI (StartTLS offered) and its CA."""

    @property
    def ldap_uri(self) -> str: ...

    @property
    def cafile(self) -> str: ...


def directory_environment(directory: Directory, **overrides: str) -> dict[str, str]:
    """The ``LDAP_*`` variables for the seeded ``directory``, then ``overrides`` (variable: value)."""
    environment = {
        "LDAP_URI": directory.ldap_uri,
        "LDAP_START_TLS": "true",
        "LDAP_CA_CERT_FILE": directory.cafile,
        "LDAP_BASE_DN": USERS_DN,
        "LDAP_BIND_DN": SERVICE_DN,
        "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
        "LDAP_TIMEOUT": "3",
    }
    environment.update(overrides)
    return environment
