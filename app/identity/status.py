"""What the directory status page shows: does it answer, how fast, with which settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ldap
from django.conf import settings

from identity.doctor import FAIL, Doctor


@dataclass(frozen=True)
class Probe:
    answers: bool
    milliseconds: float
    problem: str = ""


def probe() -> Probe:
    """Bind as the service account and read the base DN, timed."""
    doctor = Doctor()
    started = time.monotonic()
    for check in (doctor.check_bind, doctor.check_base_dn):
        finding = check()
        if finding.status == FAIL:
            return Probe(False, (time.monotonic() - started) * 1000, finding.text)
    doctor.connection.unbind_s()
    return Probe(True, (time.monotonic() - started) * 1000)


def effective_configuration() -> list[tuple[str, Any]]:
    """The directory settings in force, secrets left out."""
    options = getattr(settings, "AUTH_LDAP_CONNECTION_OPTIONS")  # noqa: B009 - made by config.ldap
    flags = getattr(settings, "AUTH_LDAP_USER_FLAGS_BY_GROUP")  # noqa: B009
    return [
        ("LDAP_URI", getattr(settings, "AUTH_LDAP_SERVER_URI")),  # noqa: B009
        ("LDAP_START_TLS", getattr(settings, "AUTH_LDAP_START_TLS")),  # noqa: B009
        ("LDAP_CA_CERT_FILE", options.get(ldap.OPT_X_TLS_CACERTFILE) or "system CAs"),
        ("LDAP_BASE_DN", getattr(settings, "AUTH_LDAP_USER_SEARCH").base_dn),  # noqa: B009
        ("LDAP_BIND_DN", getattr(settings, "AUTH_LDAP_BIND_DN")),  # noqa: B009
        ("LDAP_BIND_PASSWORD", "set (not shown)" if getattr(settings, "AUTH_LDAP_BIND_PASSWORD") else "EMPTY"),  # noqa: B009
        ("LDAP_REQUIRE_GROUP", getattr(settings, "AUTH_LDAP_REQUIRE_GROUP")),  # noqa: B009
        ("LDAP_ACTIVE_GROUP", flags.get("is_active")),
        ("LDAP_STAFF_GROUP", flags.get("is_staff")),
        ("LDAP_SUPERUSER_GROUP", flags.get("is_superuser")),
        ("LDAP_GROUP_SOURCE", type(getattr(settings, "AUTH_LDAP_GROUP_TYPE")).__name__),  # noqa: B009
        ("LDAP_TIMEOUT", f"{options.get(ldap.OPT_NETWORK_TIMEOUT)} s"),
        ("LDAP_CACHE_TIMEOUT", f"{getattr(settings, 'AUTH_LDAP_CACHE_TIMEOUT')} s"),  # noqa: B009
        ("LDAP_REVALIDATE_SECONDS", f"{settings.LDAP_REVALIDATE_SECONDS} s"),
        ("LDAP_SYNC_MAX_DEACTIVATE_PERCENT", f"{settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT} %"),
    ]
