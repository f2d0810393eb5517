"""TLS to the directory is verified: the right CA connects, anything else is refused, never clear text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory, override_settings

from devstack.testing import ldap_settings_for, sign_in_as
from identity import decisions
from identity.tls import HOST_MISMATCH, NOT_TRUSTED
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
LINUS = BY_UID["linus"]


def sign_in_with(directory: JumpCloudDirectory, **environment: str) -> tuple[object, decisions.Decision | None]:
    request = RequestFactory().post("/login/")
    with override_settings(**ldap_settings_for(directory, **environment)):
        user = authenticate(request, username=LINUS.uid, password=LINUS.password)
    return user, decisions.recorded(request)


@pytest.fixture
def unknown_ca(tmp_path: Path) -> str:
    path = tmp_path / "other-ca.crt"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def directory_without_tls(tmp_path: Path) -> Iterator[JumpCloudDirectory]:
    server = JumpCloudDirectory(tmp_path / "plain", ephemeral=True, tls=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def directory_on_another_name(tmp_path: Path) -> Iterator[JumpCloudDirectory]:
    # 127.0.0.2 is this machine too, but not a name the certificate carries.
    server = JumpCloudDirectory(tmp_path / "renamed", ephemeral=True, host="127.0.0.2")
    server.start()
    yield server
    server.stop()


def test_right_ca_over_ldaps(directory: JumpCloudDirectory) -> None:
    user, _ = sign_in_with(directory, LDAP_URI=directory.ldaps_uri, LDAP_START_TLS="false")
    assert user is not None


def test_right_ca_over_starttls(directory: JumpCloudDirectory) -> None:
    user, _ = sign_in_with(directory, LDAP_URI=directory.ldap_uri, LDAP_START_TLS="true")
    assert user is not None


@pytest.mark.parametrize("over", ["ldaps", "starttls"])
def test_unknown_ca_is_refused(directory: JumpCloudDirectory, unknown_ca: str, over: str) -> None:
    uri = directory.ldaps_uri if over == "ldaps" else directory.ldap_uri
    user, decision = sign_in_with(
        directory, LDAP_URI=uri, LDAP_START_TLS=str(over == "starttls"), LDAP_CA_CERT_FILE=unknown_ca
    )
    assert user is None
    assert decision is not None
    assert decision.directory_away
    assert NOT_TRUSTED in decision.detail


@pytest.mark.parametrize("over", ["ldaps", "starttls"])
def test_wrong_hostname_is_refused(directory_on_another_name: JumpCloudDirectory, over: str) -> None:
    server = directory_on_another_name
    uri = server.ldaps_uri if over == "ldaps" else server.ldap_uri
    user, decision = sign_in_with(server, LDAP_URI=uri, LDAP_START_TLS=str(over == "starttls"))
    assert user is None
    assert decision is not None
    assert decision.directory_away
    assert HOST_MISMATCH in decision.detail


def test_starttls_is_required_not_hoped_for(directory_without_tls: JumpCloudDirectory) -> None:
    plain, _ = sign_in_with(directory_without_tls, LDAP_START_TLS="false")
    assert plain is not None, "the directory itself works in clear"
    user, decision = sign_in_with(directory_without_tls, LDAP_START_TLS="true")
    assert user is None
    assert decision is not None
    assert decision.directory_away


def test_the_status_page_names_an_untrusted_certificate(
    client: Client, directory: JumpCloudDirectory, unknown_ca: str
) -> None:
    sign_in_as(client, BY_UID["grace"])
    with override_settings(**ldap_settings_for(directory, LDAP_CA_CERT_FILE=unknown_ca)):
        page = client.get("/admin/directory-status/").content.decode()
    assert "The directory does not answer" in page
    assert NOT_TRUSTED in page


def test_the_status_page_names_a_host_name_mismatch(
    client: Client, directory: JumpCloudDirectory, directory_on_another_name: JumpCloudDirectory
) -> None:
    sign_in_as(client, BY_UID["grace"])
    with override_settings(**ldap_settings_for(directory_on_another_name)):
        page = client.get("/admin/directory-status/").content.decode()
    assert HOST_MISMATCH in page
