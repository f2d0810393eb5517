"""A person JumpCloud has disabled in LDAP (locked out, or their password expired) cannot sign in;
the audit line says which, from the bind's password-policy response control, while the person sees
the generic message."""

from __future__ import annotations

import pytest
from django.test import Client

from devstack.testing import sign_in
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID
from ldap_seed.states import set_state

pytestmark = pytest.mark.django_db


def audit_details(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.audit["reason"], r.audit["detail"]) for r in caplog.records if r.name == "identity.audit"]  # type: ignore[attr-defined]


def test_a_locked_account_is_named_in_the_audit(
    client: Client, directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    response = sign_in(client, "joan", BY_UID["joan"].password)
    assert response.status_code == 200
    assert b"Sign-in failed. Check your username and password" in response.content
    assert audit_details(caplog) == [("account locked in the directory", "")]


def test_an_expired_password_is_named_in_the_audit(
    client: Client, own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    set_state(own_directory.ldap_uri, "grace", "expired")
    response = sign_in(client, "grace", BY_UID["grace"].password)
    assert response.status_code == 200
    assert audit_details(caplog) == [("password expired", "")]


def test_a_plain_wrong_password_has_no_detail(
    client: Client, directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, "linus", "not-the-password")
    assert audit_details(caplog) == [("wrong password", "")]
