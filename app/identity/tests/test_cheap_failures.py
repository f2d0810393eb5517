"""A wrong password for a directory user runs no local password hasher; local accounts still work."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from devstack.testing import sign_in, sign_in_as
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db


@pytest.fixture
def hasher_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the password hasher's methods as they run (the test settings' hasher)."""
    calls: list[str] = []
    for name in ("encode", "verify"):
        original = getattr(MD5PasswordHasher, name)

        def counted(self: MD5PasswordHasher, *args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(MD5PasswordHasher, name, counted)
    return calls


def test_wrong_password_for_a_directory_user_runs_no_hasher(client: Client, hasher_calls: list[str]) -> None:
    sign_in_as(client, BY_UID["grace"])  # grace now has a Django row, with an unusable password
    client.post("/logout/")
    hasher_calls.clear()
    sign_in(client, "grace", "not-graces-password")
    assert hasher_calls == []


def test_unknown_name_runs_no_hasher(client: Client, hasher_calls: list[str]) -> None:
    sign_in(client, "no-such-person", "whatever")
    assert hasher_calls == []


def test_break_glass_admin_still_signs_in(client: Client, hasher_calls: list[str]) -> None:
    get_user_model().objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    hasher_calls.clear()
    assert sign_in(client, "breakglass", "break-glass-password-1").status_code == 302
    assert hasher_calls[0] == "verify"  # (Django may re-hash after a successful check)


def test_local_account_with_a_wrong_password_is_refused() -> None:
    get_user_model().objects.create_user("local", password="the-right-local-password")
    assert authenticate(username="local", password="the-wrong-password") is None
