"""A directory that is down or hangs: a clear answer within LDAP_TIMEOUT + 1 s, the break-glass
admin still gets in, and sign-ins recover by themselves when it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django_auth_ldap.backend import valid_cache_key

from devstack.testing import ldap_settings_for, sign_in, sign_in_as, wait_out_the_breaker
from identity.forms import GENERIC_ERROR, UNAVAILABLE_ERROR
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
TIMEOUT = 2
BREAKER_SECONDS = 1
ADA = BY_UID["ada"]


@pytest.fixture
def short_timeout(own_directory: JumpCloudDirectory) -> Iterator[JumpCloudDirectory]:
    with override_settings(**ldap_settings_for(own_directory, LDAP_TIMEOUT=str(TIMEOUT))):
        yield own_directory


def timed_sign_in(client: Client, username: str, password: str) -> tuple[float, str, int]:
    started = time.monotonic()
    response = sign_in(client, username, password)
    return time.monotonic() - started, response.content.decode(), response.status_code


def test_stopped_directory_says_unavailable_at_once(client: Client, short_timeout: JumpCloudDirectory) -> None:
    short_timeout.halt()
    elapsed, page, status = timed_sign_in(client, ADA.uid, ADA.password)
    assert status == 200
    assert UNAVAILABLE_ERROR in page
    assert GENERIC_ERROR not in page
    assert elapsed < 1


def test_frozen_directory_says_unavailable_within_the_timeout(
    client: Client, short_timeout: JumpCloudDirectory
) -> None:
    short_timeout.freeze()
    try:
        elapsed, page, status = timed_sign_in(client, ADA.uid, ADA.password)
    finally:
        short_timeout.thaw()
    assert status == 200
    assert UNAVAILABLE_ERROR in page
    assert elapsed < TIMEOUT + 1


def test_break_glass_admin_signs_in_while_the_directory_hangs(
    client: Client, short_timeout: JumpCloudDirectory, local_admin: tuple[str, str]
) -> None:
    short_timeout.freeze()
    try:
        elapsed, _, status = timed_sign_in(client, *local_admin)
    finally:
        short_timeout.thaw()
    assert status == 302
    assert elapsed < TIMEOUT + 1


@override_settings(LDAP_BREAKER_SECONDS=BREAKER_SECONDS)
def test_sign_ins_recover_without_a_restart(client: Client, short_timeout: JumpCloudDirectory) -> None:
    short_timeout.halt()
    assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
    short_timeout.resume()
    wait_out_the_breaker(BREAKER_SECONDS)
    assert sign_in_as(client, ADA).status_code == 302
    client.post("/logout/")
    short_timeout.freeze()
    try:
        assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
    finally:
        short_timeout.thaw()
    wait_out_the_breaker(BREAKER_SECONDS)
    assert sign_in_as(client, ADA).status_code == 302


def test_after_a_timeout_sign_ins_fail_fast_until_a_probe_finds_the_directory_back(
    client: Client, short_timeout: JumpCloudDirectory
) -> None:
    short_timeout.freeze()
    try:
        timeouts = [timed_sign_in(client, ADA.uid, ADA.password)[0] for _ in range(2)]
        then, page, _ = timed_sign_in(client, ADA.uid, ADA.password)
    finally:
        short_timeout.thaw()
    assert min(timeouts) >= TIMEOUT - 0.1  # the two timeouts in a row that opened the circuit
    assert then < 0.5  # failing fast: no directory call made
    assert UNAVAILABLE_ERROR in page


def test_outage_is_audited_as_unavailable(
    client: Client, short_timeout: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    short_timeout.halt()
    sign_in_as(client, ADA)
    [line] = [r for r in caplog.records if r.name == "identity.audit"]
    assert line.getMessage().startswith(
        "sign-in unavailable for 'ada' from 127.0.0.1: directory unavailable (SERVER_DOWN"
    )


def test_a_failed_user_search_is_not_cached_as_no_such_user(client: Client, short_timeout: JumpCloudDirectory) -> None:
    # Cached, a sign-in or session check racing this one would read "no such user" for ada.
    short_timeout.halt()
    assert UNAVAILABLE_ERROR in sign_in_as(client, ADA).content.decode()
    assert cache.get(valid_cache_key(f"django_auth_ldap.user_dn.{ADA.uid}"), "absent") == "absent"
