"""The page says one thing for every refusal; the log says why."""

from __future__ import annotations

import pytest
from django.test import Client

from devstack.testing import sign_in, sign_in_as
from ldap_seed import SERVICE_PASSWORD
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("eve", "eve-demo-pass", "not in the app group"),
        ("ken", "ken-demo-pass", "inactive"),
        ("ada", "wrong-password", "wrong password"),
        ("nobody", "wrong-password", "unknown user"),
        ("a" * 151, "wrong-password", "invalid input"),
    ],
)
def test_one_audit_line_per_refusal_with_its_reason(
    client: Client, caplog: pytest.LogCaptureFixture, username: str, password: str, reason: str
) -> None:
    sign_in(client, username, password)
    lines = [r for r in caplog.records if r.name == "identity.audit"]
    assert len(lines) == 1
    assert lines[0].getMessage() == f"sign-in denied for {username[:150]!r} from 127.0.0.1: {reason}"
    assert getattr(lines[0], "audit", None) == {
        "event": "sign-in",
        "outcome": "denied",
        "username": username[:150],
        "client": "127.0.0.1",
        "reason": reason,
        "detail": "",
    }


def test_success_is_audited_with_its_source(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    sign_in_as(client, BY_UID["linus"])
    [line] = [r for r in caplog.records if r.name == "identity.audit"]
    assert line.getMessage() == "sign-in success for 'linus' from 127.0.0.1"
    assert getattr(line, "audit", {})["detail"] == "directory"


def test_json_format_puts_the_fields_on_the_line(caplog: pytest.LogCaptureFixture, client: Client) -> None:
    import json

    from identity.logging import JsonFormatter

    sign_in(client, "eve", "eve-demo-pass")
    [record] = [r for r in caplog.records if r.name == "identity.audit"]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["outcome"] == "denied"
    assert entry["reason"] == "not in the app group"
    assert entry["username"] == "eve"
    assert entry["level"] == "WARNING"


def test_passwords_are_not_logged_even_at_debug(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    for logger in ("", "django_auth_ldap", "axes", "identity", "django"):
        caplog.set_level("DEBUG", logger=logger)
    for persona in BY_UID.values():
        sign_in_as(client, persona)
        client.post("/logout/")
    sign_in(client, "ada", "a-wrong-guess-123")
    assert "Binding as" in caplog.text, "django-auth-ldap's DEBUG lines were captured"
    for secret in [p.password for p in BY_UID.values()] + [SERVICE_PASSWORD, "a-wrong-guess-123"]:
        assert secret not in caplog.text


def test_binds_and_searches_are_not_logged_at_info(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    sign_in_as(client, BY_UID["linus"])
    assert "Binding as" not in caplog.text
