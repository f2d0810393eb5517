"""The page says one thing for every refusal; the log says why."""

from __future__ import annotations

import pytest
from django.test import Client

from ldap_seed import SERVICE_PASSWORD
from ldap_seed.personas import BY_UID
from tests.helpers import sign_in, sign_in_as

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("eve", "eve-demo-pass", "does not satisfy AUTH_LDAP_REQUIRE_GROUP"),
        ("ken", "ken-demo-pass", "account is inactive"),
        ("ada", "wrong-password", "DN/password rejected"),
        ("nobody", "wrong-password", "failed to map the username to a DN"),
    ],
)
def test_reason_for_refusal_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture, username: str, password: str, reason: str
) -> None:
    sign_in(client, username, password)
    assert reason in caplog.text
    assert f"sign-in refused for '{username}' from 127.0.0.1" in caplog.text


def test_passwords_are_not_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    for persona in BY_UID.values():
        sign_in_as(client, persona)
        client.post("/logout/")
    sign_in(client, "ada", "a-wrong-guess-123")
    for secret in [p.password for p in BY_UID.values()] + [SERVICE_PASSWORD, "a-wrong-guess-123"]:
        assert secret not in caplog.text


def test_binds_and_searches_are_not_logged_at_info(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    sign_in_as(client, BY_UID["linus"])
    assert "Binding as" not in caplog.text
