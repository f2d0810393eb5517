"""Each thread keeps its directory connections between sign-ins (one bound as the service account,
one for users' binds), and gets working ones whatever happened meanwhile: a restarted, stopped or
hung directory, a server-side idle timeout."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import ldap
import pytest
from django.contrib.auth import authenticate
from django.test import Client, override_settings
from identity import ldap_client
from identity.forms import UNAVAILABLE_ERROR

from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID
from tests.helpers import ldap_settings_for, sign_in_as

pytestmark = pytest.mark.django_db
ADA = BY_UID["ada"]
TIMEOUT = 2


@pytest.fixture(autouse=True)
def _no_held_connection() -> Iterator[None]:
    ldap_client.drop_held_connection()
    yield
    ldap_client.drop_held_connection()


@pytest.fixture
def short_timeout(own_directory: JumpCloudDirectory) -> Iterator[JumpCloudDirectory]:
    with override_settings(**ldap_settings_for(own_directory, LDAP_TIMEOUT=str(TIMEOUT))):
        yield own_directory


def signs_in(persona: Any = ADA) -> bool:
    return authenticate(username=persona.uid, password=persona.password) is not None


def test_sign_ins_share_two_connections_per_thread(directory: JumpCloudDirectory) -> None:
    before = directory.log_size()
    for persona in (ADA, BY_UID["grace"], ADA):
        assert signs_in(persona)
    counted = directory.operations_since(before)
    assert counted["EXT"] == 2, counted  # two StartTLS: two connections
    # the service account bound once, when its connection was opened; then a search and a bind each
    assert (counted["BIND"], counted["SRCH"]) == (1 + 3, 3), counted


def test_a_sign_in_on_kept_connections_is_two_operations(directory: JumpCloudDirectory) -> None:
    assert signs_in()
    before = directory.log_size()
    assert signs_in()
    assert directory.operations_since(before) == Counter({"SRCH": 1, "BIND": 1})


def test_a_connection_idle_too_long_is_replaced(directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ldap_client, "MAX_IDLE_SECONDS", 0.0)
    before = directory.log_size()
    assert signs_in()
    assert signs_in()
    assert directory.operations_since(before)["EXT"] == 4


def test_a_restarted_directory_is_reconnected_without_a_failed_sign_in(own_directory: JumpCloudDirectory) -> None:
    assert signs_in()
    own_directory.restart()
    before = own_directory.log_size()
    assert signs_in()
    counted = own_directory.operations_since(before)
    # both connections made anew before anything was sent: ada's password was sent once
    assert (counted["BIND"], counted["EXT"]) == (2, 2), counted


def test_a_server_side_idle_close_is_reconnected(own_directory: JumpCloudDirectory) -> None:
    own_directory.apply_ldif("dn: cn=config\nchangetype: modify\nreplace: olcIdleTimeout\nolcIdleTimeout: 1\n")
    assert signs_in()
    before = own_directory.log_size()
    deadline = time.monotonic() + 10
    while b"idletimeout" not in own_directory.log_path.read_bytes()[before:] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b"idletimeout" in own_directory.log_path.read_bytes()[before:], "slapd closed the idle connection"
    assert signs_in()


def test_a_stopped_directory_answers_at_once_then_comes_back(client: Client, short_timeout: JumpCloudDirectory) -> None:
    assert signs_in()
    short_timeout.halt()
    started = time.monotonic()
    assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
    assert time.monotonic() - started < 1
    short_timeout.resume()
    assert sign_in_as(client, ADA).status_code == 302


def test_a_hung_directory_answers_within_the_timeout_then_comes_back(
    client: Client, short_timeout: JumpCloudDirectory
) -> None:
    assert signs_in()
    short_timeout.freeze()
    try:
        started = time.monotonic()
        assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
        assert time.monotonic() - started < TIMEOUT + 1
    finally:
        short_timeout.thaw()
    assert sign_in_as(client, ADA).status_code == 302


def test_threads_do_not_share_a_connection(directory: JumpCloudDirectory) -> None:
    seen: list[int] = []

    def use() -> None:
        with ldap_client.held_connection() as connection:
            seen.append(id(connection))
            connection.whoami_s()
            time.sleep(0.2)  # both threads hold theirs at once
        ldap_client.drop_held_connection()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 2


def test_an_error_inside_the_block_drops_the_connection(directory: JumpCloudDirectory) -> None:
    with ldap_client.held_connection() as first:
        pass
    with ldap_client.held_connection() as second:
        assert second is first
    with pytest.raises(ldap.NO_SUCH_OBJECT), ldap_client.held_connection() as broken:
        broken.search_s("ou=nowhere,dc=example,dc=com", ldap.SCOPE_BASE)
    with ldap_client.held_connection() as third:
        assert third is not first
