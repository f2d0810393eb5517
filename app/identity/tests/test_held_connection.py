"""Each thread keeps two directory connections between sign-ins (one bound as the service account
for searches, one for people's binds), and gets working ones whatever happened meanwhile: a
restarted, stopped or hung directory, a server-side idle timeout, an open circuit breaker. A
password is never sent twice, and the service connection is never left bound as anyone else."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator

import ldap
import pytest
from django.contrib.auth import authenticate
from django.test import Client, override_settings

from devstack.testing import ldap_settings_for, sign_in_as
from identity import breaker, ldap_client, revalidation
from identity.directory_settings import current
from identity.forms import UNAVAILABLE_ERROR
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, Persona

pytestmark = pytest.mark.django_db
ADA = BY_UID["ada"]
TIMEOUT = 2


@pytest.fixture
def short_timeout(own_directory: JumpCloudDirectory) -> Iterator[JumpCloudDirectory]:
    with override_settings(**ldap_settings_for(own_directory, LDAP_TIMEOUT=str(TIMEOUT))):
        yield own_directory


def signs_in(persona: Persona = ADA) -> bool:
    return authenticate(username=persona.uid, password=persona.password) is not None


def kept(purpose: str) -> object:
    """This thread's kept connection for ``purpose`` (it is kept while not in use)."""
    return ldap_client._held.kept[purpose][0]


def test_sign_ins_share_two_connections_per_thread(directory: JumpCloudDirectory) -> None:
    before = directory.log_size()
    for persona in (ADA, BY_UID["grace"], ADA):
        assert signs_in(persona)
    counted = directory.operations_since(before)
    assert counted["EXT"] == 2, counted  # two StartTLS: two connections
    # the service account bound once, when its connection was opened; then a search and a bind each
    assert (counted["BIND"], counted["SRCH"]) == (1 + 3, 3), counted


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
    assert (counted["BIND"], counted["EXT"], counted["SRCH"]) == (2, 2, 1), counted


def test_a_server_side_idle_close_is_reconnected(own_directory: JumpCloudDirectory) -> None:
    own_directory.apply_ldif("dn: cn=config\nchangetype: modify\nreplace: olcIdleTimeout\nolcIdleTimeout: 1\n")
    assert signs_in()
    before = own_directory.log_size()
    # Both kept connections (the service account's, the binds') closed: slapd checks idle ones
    # periodically, so one may close a moment after the other (seen in CI under load).
    deadline = time.monotonic() + 10
    while own_directory.log_path.read_bytes()[before:].count(b"idletimeout") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert own_directory.log_path.read_bytes()[before:].count(b"idletimeout") >= 2, "slapd closed the idle connections"
    before = own_directory.log_size()
    assert signs_in()
    assert own_directory.operations_since(before)["EXT"] == 2  # new connections, not a failed sign-in


def test_a_stopped_directory_answers_at_once_then_comes_back(client: Client, short_timeout: JumpCloudDirectory) -> None:
    assert signs_in()
    short_timeout.halt()
    started = time.monotonic()
    assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
    assert time.monotonic() - started < 1
    short_timeout.resume()
    breaker.DIRECTORY.reset()  # not wait LDAP_BREAKER_SECONDS for the probe
    assert sign_in_as(client, ADA).status_code == 302


def test_a_hung_directory_answers_within_the_deadline_on_kept_connections(
    client: Client, short_timeout: JumpCloudDirectory
) -> None:
    assert signs_in()
    assert ldap_client.SERVICE in ldap_client._held.kept
    short_timeout.freeze()
    try:
        started = time.monotonic()
        assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
        assert time.monotonic() - started < TIMEOUT + 1
    finally:
        short_timeout.thaw()
    assert ldap_client.SERVICE not in ldap_client._held.kept, "the connection that timed out was dropped"
    breaker.DIRECTORY.reset()
    assert sign_in_as(client, ADA).status_code == 302


def test_an_open_circuit_fails_fast_on_kept_connections(directory: JumpCloudDirectory) -> None:
    assert signs_in()
    for _ in range(breaker.CircuitBreaker.FAILURES_TO_OPEN):
        breaker.DIRECTORY.failed(ldap.SERVER_DOWN({"desc": "Can't contact LDAP server"}))
    before = directory.log_size()
    assert not signs_in()
    assert directory.operations_since(before) == Counter(), "nothing reached the directory"


def test_the_stand_in_bind_leaves_the_service_connection_bound_as_the_service_account(
    directory: JumpCloudDirectory,
) -> None:
    assert authenticate(username="nobody-by-this-name", password="a-guess") is None
    assert authenticate(username="linus", password="a-wrong-guess") is None
    with ldap_client.held_connection(ldap_client.SERVICE) as service:
        assert service.whoami_s() == f"dn:{current().bind_dn}"
    before = directory.log_size()
    assert signs_in()
    assert directory.operations_since(before) == Counter({"SRCH": 1, "BIND": 1})


def test_the_password_policy_control_rides_on_the_kept_users_connection(
    client: Client, directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    assert signs_in()  # the connections are kept
    before = directory.log_size()
    for _ in range(2):
        sign_in_as(client, BY_UID["joan"])  # seeded locked
    assert directory.operations_since(before)["EXT"] == 0, "both on the kept connections"
    reasons = [r.audit["reason"] for r in caplog.records if r.name == "identity.audit"]  # type: ignore[attr-defined]
    assert reasons == ["account locked in the directory"] * 2
    assert signs_in()


def test_another_process_or_directory_never_reuses_a_connection(
    directory: JumpCloudDirectory, own_directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert signs_in()  # on own_directory
    with override_settings(**ldap_settings_for(directory)):
        before = directory.log_size()
        assert signs_in()
        assert directory.operations_since(before)["EXT"] == 2, "another directory: new connections"
        monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a forked gunicorn worker
        before = directory.log_size()
        assert signs_in()
        assert directory.operations_since(before)["EXT"] == 2, "another process: new connections"


def test_threads_do_not_share_a_connection(directory: JumpCloudDirectory) -> None:
    seen: list[int] = []

    def use() -> None:
        with ldap_client.held_connection() as connection:
            seen.append(id(connection))
            connection.whoami_s()
            time.sleep(0.2)  # both threads hold theirs at once
        ldap_client.drop_held_connections()

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


def test_the_session_check_reads_on_the_kept_service_connection(client: Client, directory: JumpCloudDirectory) -> None:
    sign_in_as(client, ADA)
    service = kept(ldap_client.SERVICE)
    reading = revalidation.read_entry(None, "ada")
    assert not isinstance(reading, str)
    assert len(reading[0]) == 1
    assert kept(ldap_client.SERVICE) is service
