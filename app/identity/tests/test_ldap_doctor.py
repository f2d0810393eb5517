"""`manage.py ldap_doctor` passes on a good configuration and names each broken one, with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from django.test import override_settings

from devstack.native import free_port
from devstack.testing import ldap_settings_for, run_doctor
from identity.doctor import Doctor
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS

# --user reads Django's rows too (a username held by a local account).
pytestmark = pytest.mark.django_db

OTHER_ORG = "0123456789abcdef01234567"


def doctor(directory: JumpCloudDirectory, *args: str, **environment: str) -> tuple[bool, str]:
    with override_settings(**ldap_settings_for(directory, **environment)):
        return run_doctor(*args)


def test_good_configuration_passes(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory)
    assert passed, report
    assert "[  OK] TLS: StartTLS, certificate issued by ldap_seed local CA" in report
    assert "group LDAP_REQUIRE_GROUP: cn=Django App," in report
    assert f": {sum(1 for p in PERSONAS if 'Django App' in p.groups)} members" in report
    assert report.rstrip().endswith("All checks passed.")


def test_ldaps_passes_too(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, LDAP_URI=directory.ldaps_uri, LDAP_START_TLS="false")
    assert passed, report
    assert "[  OK] TLS: ldaps," in report


def test_user_report_without_their_password(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, "--user", "linus")
    assert passed, report
    assert "would be allowed to sign in" in report
    assert "flags: is_active=True, is_staff=False, is_superuser=False" in report
    assert "groups: Django App, active" in report
    assert "display_name (displayName): Linus Bjørkström" in report


def test_user_outside_the_app_group(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, "--user", "eve")
    assert not passed
    assert "[FAIL] user eve: would be refused: not in cn=Django App," in report
    assert "fix: Add the user to the app group in JumpCloud." in report


def test_unknown_user(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, "--user", "nobody")
    assert not passed
    assert "no user with uid=nobody under" in report


def test_wrong_bind_password(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, LDAP_BIND_PASSWORD="not-the-password")
    assert not passed
    assert "[FAIL] service account: the directory refused uid=svc-django," in report
    assert "Check LDAP_BIND_PASSWORD" in report
    assert "[SKIP] the rest" in report


def test_wrong_org_id(directory: JumpCloudDirectory) -> None:
    wrong_base = f"ou=Users,o={OTHER_ORG},dc=jumpcloud,dc=com"
    passed, report = doctor(directory, LDAP_BASE_DN=wrong_base, LDAP_BIND_DN=f"uid=svc-django,{wrong_base}")
    assert not passed
    assert f"(org id {OTHER_ORG})" in report
    passed, report = doctor(directory, LDAP_BASE_DN=wrong_base)
    assert not passed
    assert f"[FAIL] base DN: {wrong_base} does not exist" in report


def test_missing_group(directory: JumpCloudDirectory) -> None:
    passed, report = doctor(directory, LDAP_STAFF_GROUP="Platform Admins")
    assert not passed
    assert "[FAIL] group LDAP_STAFF_GROUP: cn=Platform Admins," in report
    assert "bind it to the LDAP directory" in report


def test_unknown_ca(directory: JumpCloudDirectory, tmp_path: Path) -> None:
    other_ca = tmp_path / "other.crt"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    passed, report = doctor(directory, LDAP_CA_CERT_FILE=str(other_ca))
    assert not passed
    assert "[FAIL] TLS: StartTLS: the certificate is not trusted" in report
    assert "set LDAP_CA_CERT_FILE to the CA that signed it" in report


def test_nothing_answers(directory: JumpCloudDirectory) -> None:
    closed_port = free_port()  # handed to no other stack of this run either
    passed, report = doctor(directory, LDAP_URI=f"ldap://127.0.0.1:{closed_port}")
    assert not passed
    assert f"[FAIL] address: nothing answers on 127.0.0.1:{closed_port}" in report


def test_clear_text_to_another_host_fails(directory: JumpCloudDirectory) -> None:
    settings = ldap_settings_for(directory, LDAP_URI="ldap://ldap.jumpcloud.com:389", LDAP_START_TLS="false")
    with override_settings(**settings):
        finding = Doctor().check_tls()
    assert finding.status == "FAIL"
    assert "passwords would travel in clear" in finding.text
