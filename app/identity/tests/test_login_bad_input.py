"""Wrong and hostile input never signs anyone in, never gives a 500, never says which part was wrong."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from devstack.testing import sign_in
from identity.forms import GENERIC_ERROR

pytestmark = pytest.mark.django_db

INJECTION_SHAPED = [
    "*",
    "ada)(uid=*",
    "ad*",
    "ada\\",
    "\\2a",
    "ada\x00",
    "a" * 1000,
    "ædå-ørjan",
    "*)(|(objectClass=*)",
    "uid=ada,ou=Users,o=5f0c1a2b3c4d5e6f7a8b9c0d,dc=jumpcloud,dc=com",
]


def assert_refused(client: Client, response: object) -> None:
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "_auth_user_id" not in client.session


def test_wrong_password(client: Client) -> None:
    response = sign_in(client, "ada", "not-adas-password")
    assert_refused(client, response)
    assert GENERIC_ERROR in response.content.decode()


def test_unknown_user_gets_the_same_message(client: Client) -> None:
    response = sign_in(client, "nobody-here", "whatever-password")
    assert_refused(client, response)
    assert GENERIC_ERROR in response.content.decode()


def test_empty_password(client: Client) -> None:
    response = sign_in(client, "ada", "")
    assert_refused(client, response)


@pytest.mark.parametrize("username", INJECTION_SHAPED, ids=range(len(INJECTION_SHAPED)))
@pytest.mark.parametrize("password", ["ada-demo-pass", "*"])
def test_injection_shaped_usernames_never_authenticate(client: Client, username: str, password: str) -> None:
    response = sign_in(client, username, password)
    assert_refused(client, response)
    assert not get_user_model().objects.exists()


def test_missing_fields_are_a_form_error_not_a_crash(client: Client) -> None:
    response = client.post("/login/", {})
    assert_refused(client, response)
