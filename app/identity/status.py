"""What the directory status page shows: does it answer, how fast, with which settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from identity import tls
from identity.directory_settings import current
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
            directory = current()
            named = tls.name_tls_failure(
                directory.uri, start_tls=directory.start_tls, ca_file=directory.ca_cert_file, timeout=2
            )
            return Probe(False, elapsed, f"{finding.text} ({named})" if named else finding.text)
    doctor.connection.unbind_s()
    return Probe(True, (time.monotonic() - started) * 1000)


def effective_configuration() -> list[tuple[str, Any]]:
    """The directory settings in force, secrets left out."""
    directory = current()
    return [
        ("LDAP_URI", directory.uri),
        ("LDAP_START_TLS", directory.start_tls),
        ("LDAP_CA_CERT_FILE", directory.ca_cert_file or "system CAs"),
        ("LDAP_BASE_DN", directory.base_dn),
        ("LDAP_BIND_DN", directory.bind_dn),
        ("LDAP_BIND_PASSWORD", "set (not shown)" if directory.bind_password else "EMPTY"),
        *((group.variable, group.dn) for group in directory.groups),
        ("LDAP_GROUP_SOURCE", directory.group_source),
        ("LDAP_USER_ID_ATTRIBUTE", directory.user_id_attribute),
        ("LDAP_TIMEOUT", f"{directory.timeout} s"),
        ("LDAP_REVALIDATE_SECONDS", f"{settings.LDAP_REVALIDATE_SECONDS} s"),
        ("LDAP_SYNC_MAX_DEACTIVATE_PERCENT", f"{settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT} %"),
    ]
