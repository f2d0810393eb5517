"""AUTH_LOCAL_ACCOUNTS: on (default), a local break-glass admin signs in; off, only directory users do."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from devstack.testing import sign_in, sign_in_as
from identity.forms import GENERIC_ERROR
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db


def test_local_accounts_sign_in_by_default(client: Client, local_admin: tuple[str, str]) -> None:
    assert sign_in(client, "breakglass", "break-glass-password-1").status_code == 302
    assert "Only JumpCloud accounts can sign in here." not in client.get("/login/").content.decode()


@override_settings(AUTH_LOCAL_ACCOUNTS=False)
def test_off_local_accounts_cannot_sign_in(client: Client, local_admin: tuple[str, str]) -> None:
    response = sign_in(client, "breakglass", "break-glass-password-1")
    assert response.status_code == 200
    assert GENERIC_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(AUTH_LOCAL_ACCOUNTS=False)
def test_off_directory_users_still_sign_in_and_the_form_says_so(client: Client) -> None:
    assert "Only JumpCloud accounts can sign in here." in client.get("/login/").content.decode()
    assert sign_in_as(client, BY_UID["linus"]).status_code == 302


@pytest.mark.parametrize(("enabled", "text"), [(True, "allowed"), (False, "off (AUTH_LOCAL_ACCOUNTS=false)")])
def test_ldap_doctor_reports_the_setting(enabled: bool, text: str) -> None:
    output = io.StringIO()
    with override_settings(AUTH_LOCAL_ACCOUNTS=enabled):
        call_command("ldap_doctor", stdout=output, no_color=True)
    assert f"[  OK] local accounts: {text}" in output.getvalue()
