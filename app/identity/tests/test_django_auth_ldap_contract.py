"""What identity.backends relies on in django-auth-ldap, beyond its documented API: fails when an
upgrade drops or renames one of them (pyproject pins the minor versions the suite has run)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import django_auth_ldap
from django_auth_ldap import backend

from identity.backends import REFUSALS

IDENTITY = Path(__file__).resolve().parents[1]
BACKENDS_SOURCE = (IDENTITY / "backends.py").read_text()


def test_every_private_name_we_use_is_still_there() -> None:
    used = set(re.findall(r"ldap_user\.(_[a-z_]+)", BACKENDS_SOURCE))
    expected = {"_request", "_authenticate_user_dn", "_connection", "_connection_bound"}
    assert used == expected, "update this test and the pin"
    ldap_user = backend._LDAPUser(backend.LDAPBackend(), username="someone")
    for name in used:
        assert hasattr(ldap_user, name), f"django-auth-ldap {django_auth_ldap.version} has no _LDAPUser.{name}"


def test_a_connection_we_hand_over_is_the_one_searched_and_bound_on() -> None:
    """identity.backends gives django-auth-ldap its held connections through _connection and
    _connection_bound: the search must run on that connection without a bind of its own, and the
    person's bind must go to whatever connection _connection is at the time."""
    calls: list[tuple[str, tuple[object, ...]]] = []

    class Recorder:
        def __getattr__(self, name: str) -> object:
            return lambda *args, **kwargs: calls.append((name, args))

    service, binds = Recorder(), Recorder()
    ldap_user = backend._LDAPUser(backend.LDAPBackend(), username="someone")
    ldap_user._connection, ldap_user._connection_bound = service, True
    assert ldap_user.connection is service
    assert calls == [], "no bind of its own on a connection handed over as bound"
    ldap_user._user_dn = "uid=someone,ou=Users,o=x,dc=jumpcloud,dc=com"
    ldap_user._connection = binds
    ldap_user._authenticate_user_dn("a password")
    assert calls == [("simple_bind_s", ("uid=someone,ou=Users,o=x,dc=jumpcloud,dc=com", "a password"))]


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
    offenders = [
        str(path.relative_to(IDENTITY))
        for path in IDENTITY.glob("**/*.py")
        if path.name not in ("backends.py", Path(__file__).name)
        and re.search(r"_LDAPUser|ldap_user\._", path.read_text())
    ]
    assert offenders == []
