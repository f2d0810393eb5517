"""Settings come from the environment; a bad or missing value fails loudly with the variable's name."""

from __future__ import annotations

from pathlib import Path

import ldap
import pytest
from django.core.exceptions import ImproperlyConfigured
from identity.directory_settings import DirectorySettings
from identity.dn import group_dn

from config.env import env_bool, env_int, env_list, env_secret
from devstack.environment import directory_environment
from ldap_seed.directory import JumpCloudDirectory


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, directory: JumpCloudDirectory) -> pytest.MonkeyPatch:
    for name, value in directory_environment(directory).items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_missing_uri_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.delenv("LDAP_URI")
    with pytest.raises(ImproperlyConfigured, match="LDAP_URI"):
        DirectorySettings.from_environment()


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("On", True), ("0", False), ("no", False)])
def test_env_bool_reads_common_spellings(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("FLAG", value)
    assert env_bool("FLAG") is expected


def test_env_bool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDAP_START_TLS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="LDAP_START_TLS must be true or false"):
        env_bool("LDAP_START_TLS")


@pytest.mark.parametrize("value", ["five", "-1"])
def test_env_int_refuses_bad_numbers(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LDAP_TIMEOUT", value)
    with pytest.raises(ImproperlyConfigured, match="LDAP_TIMEOUT"):
        env_int("LDAP_TIMEOUT", 5, minimum=1)


def test_env_list_splits_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", " app.example.com, ,localhost ")
    assert env_list("DJANGO_ALLOWED_HOSTS", []) == ["app.example.com", "localhost"]


def test_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "bind-password"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("LDAP_BIND_PASSWORD", raising=False)
    monkeypatch.setenv("LDAP_BIND_PASSWORD_FILE", str(secret))
    assert env_secret("LDAP_BIND_PASSWORD") == "from-a-file"


def test_secret_file_that_cannot_be_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LDAP_BIND_PASSWORD", raising=False)
    monkeypatch.setenv("LDAP_BIND_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="LDAP_BIND_PASSWORD_FILE names"):
        env_secret("LDAP_BIND_PASSWORD")


def test_secret_and_secret_file_together_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LDAP_BIND_PASSWORD", "x")
    monkeypatch.setenv("LDAP_BIND_PASSWORD_FILE", str(tmp_path))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("LDAP_BIND_PASSWORD")


def test_missing_ca_file_is_refused_at_start(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("LDAP_CA_CERT_FILE", str(tmp_path / "nope.crt"))
    with pytest.raises(ImproperlyConfigured, match="LDAP_CA_CERT_FILE"):
        DirectorySettings.from_environment()


def test_group_names_are_configurable_and_escaped(env: pytest.MonkeyPatch) -> None:
    env.setenv("LDAP_REQUIRE_GROUP", "Ops, Tier+1")
    env.setenv("LDAP_STAFF_GROUP", "Admins")
    directory = DirectorySettings.from_environment()
    base = directory.base_dn
    assert directory.require_group.dn == f"cn=Ops\\, Tier\\+1,{base}"
    assert directory.staff_group.dn == f"cn=Admins,{base}"
    assert group_dn("Django App", base) == f"cn=Django App,{base}"


def test_tls_options_end_with_a_new_context(env: pytest.MonkeyPatch) -> None:
    options = list(DirectorySettings.from_environment().connection_options())
    assert options[-1] == ldap.OPT_X_TLS_NEWCTX
    assert options.index(ldap.OPT_X_TLS_CACERTFILE) < options.index(ldap.OPT_X_TLS_NEWCTX)
    env.delenv("LDAP_CA_CERT_FILE")
    assert (
        DirectorySettings.from_environment().connection_options()[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    )


def test_user_search_never_asks_for_passwords(env: pytest.MonkeyPatch) -> None:
    attributes = [
        a.lower() for a in DirectorySettings.from_environment().auth_ldap_settings()["AUTH_LDAP_USER_SEARCH"].attrlist
    ]
    assert "userpassword" not in attributes
    assert "memberof" in attributes
