"""What identity.backends relies on in django-auth-ldap, beyond its documented API: fails when an
upgrade drops or renames one of them (pyproject pins the minor versions the suite has run)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import django_auth_ldap
from django_auth_ldap import backend
from identity.backends import REFUSALS

BACKENDS_SOURCE = (Path(__file__).resolve().parents[1] / "identity" / "backends.py").read_text()


def test_every_private_name_we_use_is_still_there() -> None:
    used = set(re.findall(r"ldap_user\.(_[a-z_]+)", BACKENDS_SOURCE))
    assert used == {
        "_request",
        "_authenticate_user_dn",
        "_get_connection",
        "_connection",
        "_connection_bound",
    }, "update this test and the pin"
    ldap_user = backend._LDAPUser(backend.LDAPBackend(), username="someone")
    for name in used:
        assert hasattr(ldap_user, name), f"django-auth-ldap {django_auth_ldap.version} has no _LDAPUser.{name}"


def test_the_hooks_we_override_are_still_called() -> None:
    authenticate = inspect.getsource(backend.LDAPBackend.authenticate)
    assert "self.authenticate_ldap_user(ldap_user, password)" in authenticate
    assert "def get_user(self, user_id)" in inspect.getsource(backend.LDAPBackend)
    assert "ldap_error" in dir(backend), "the signal identity.apps connects"


def test_the_refusal_messages_we_map_are_still_raised() -> None:
    source = inspect.getsource(backend._LDAPUser._authenticate_user_dn)
    for message in REFUSALS:
        assert f'"{message}"' in source, message


def test_only_the_backend_module_uses_private_names() -> None:
    app = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(app))
        for path in app.glob("identity/**/*.py")
        if path.name != "backends.py" and re.search(r"_LDAPUser|ldap_user\._", path.read_text())
    ]
    assert offenders == []
