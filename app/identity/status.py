"""What the directory status page shows: does it answer, how fast, with which settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ldap
from django.conf import settings

from identity import tls
from identity.directory_settings import ldap_setting
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
            elapsed = (time.monotonic() - started) * 1000
            named = tls.name_tls_failure(
                ldap_setting("SERVER_URI"),
                start_tls=bool(ldap_setting("START_TLS")),
                ca_file=ldap_setting("CONNECTION_OPTIONS").get(ldap.OPT_X_TLS_CACERTFILE),
                timeout=2,
            )
            return Probe(False, elapsed, f"{finding.text} ({named})" if named else finding.text)
    doctor.connection.unbind_s()
    return Probe(True, (time.monotonic() - started) * 1000)


def effective_configuration() -> list[tuple[str, Any]]:
    """The directory settings in force, secrets left out."""
    options = ldap_setting("CONNECTION_OPTIONS")
    flags = ldap_setting("USER_FLAGS_BY_GROUP")
    return [
        ("LDAP_URI", ldap_setting("SERVER_URI")),
        ("LDAP_START_TLS", ldap_setting("START_TLS")),
        ("LDAP_CA_CERT_FILE", options.get(ldap.OPT_X_TLS_CACERTFILE) or "system CAs"),
        ("LDAP_BASE_DN", ldap_setting("USER_SEARCH").base_dn),
        ("LDAP_BIND_DN", ldap_setting("BIND_DN")),
        ("LDAP_BIND_PASSWORD", "set (not shown)" if ldap_setting("BIND_PASSWORD") else "EMPTY"),
        ("LDAP_REQUIRE_GROUP", ldap_setting("REQUIRE_GROUP")),
        ("LDAP_ACTIVE_GROUP", flags.get("is_active")),
        ("LDAP_STAFF_GROUP", flags.get("is_staff")),
        ("LDAP_SUPERUSER_GROUP", flags.get("is_superuser")),
        ("LDAP_GROUP_SOURCE", type(ldap_setting("GROUP_TYPE")).__name__),
        ("LDAP_TIMEOUT", f"{options.get(ldap.OPT_NETWORK_TIMEOUT)} s"),
        ("LDAP_CACHE_TIMEOUT", f"{ldap_setting('CACHE_TIMEOUT')} s"),
        ("LDAP_REVALIDATE_SECONDS", f"{settings.LDAP_REVALIDATE_SECONDS} s"),
        ("LDAP_SYNC_MAX_DEACTIVATE_PERCENT", f"{settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT} %"),
    ]
