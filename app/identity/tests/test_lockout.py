"""Guessing is limited: a username + address pair is locked after AXES_FAILURE_LIMIT failures,
the locked attempt costs no directory round trip, and outages never count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client, override_settings

from devstack.testing import sign_in, wait_out_the_breaker
from identity import breaker
from identity.backends import JumpCloudLDAPBackend
from identity.forms import UNAVAILABLE_ERROR, lockout_error
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
LIMIT = 3
GRACE = BY_UID["grace"]


@pytest.fixture(autouse=True)
def _limit() -> Iterator[None]:
    with override_settings(AXES_FAILURE_LIMIT=LIMIT):
        yield


def fail_times(client: Client, times: int, username: str = GRACE.uid) -> None:
    for _ in range(times):
        sign_in(client, username, "a-wrong-guess")


def test_locked_after_the_limit_even_with_the_right_password(client: Client) -> None:
    fail_times(client, LIMIT)
    response = sign_in(client, GRACE.uid, GRACE.password)
    assert response.status_code == 429
    assert lockout_error() in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_below_the_limit_the_right_password_still_works(client: Client) -> None:
    fail_times(client, LIMIT - 1)
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 302


def test_locked_attempt_never_reaches_the_directory(client: Client) -> None:
    fail_times(client, LIMIT)
    with mock.patch.object(JumpCloudLDAPBackend, "authenticate_ldap_user") as directory:
        sign_in(client, GRACE.uid, GRACE.password)
    directory.assert_not_called()


@override_settings(LDAP_MAX_FAILURES_PER_USER=LIMIT * 10)  # the username's own budget: test_guess_budget
def test_lock_is_per_username_and_address(client: Client) -> None:
    fail_times(client, LIMIT)
    linus = BY_UID["linus"]
    assert sign_in(client, linus.uid, linus.password).status_code == 302
    other_address = Client(REMOTE_ADDR="192.0.2.10")
    assert other_address.post("/login/", {"username": GRACE.uid, "password": GRACE.password}).status_code == 302


def time_passes(minutes: int) -> None:
    """Move every recorded failure ``minutes`` into the past, as if that time had gone by."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_the_cool_off_runs_from_the_failure_that_caused_the_lock(client: Client) -> None:
    fail_times(client, LIMIT)
    time_passes(10)
    # Tried again while locked: refused, and the clock is not restarted by it.
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 429
    time_passes(6)  # 16 minutes after the lock, past the 15-minute cool-off
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 302


def test_lockout_is_audited(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    fail_times(client, LIMIT)
    caplog.clear()
    sign_in(client, GRACE.uid, GRACE.password)
    [line] = [r for r in caplog.records if r.name == "identity.audit"]
    assert line.getMessage() == "sign-in denied for 'grace' from 127.0.0.1: locked out"


@override_settings(LDAP_BREAKER_SECONDS=1)
def test_failures_during_an_outage_do_not_count(client: Client, own_directory: JumpCloudDirectory) -> None:
    own_directory.halt()
    for _ in range(LIMIT + 2):
        assert UNAVAILABLE_ERROR in sign_in(client, GRACE.uid, GRACE.password).content.decode()
    own_directory.resume()
    wait_out_the_breaker(1)
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 302


@override_settings(LDAP_BREAKER_SECONDS=60)
def test_a_locked_pair_stays_locked_while_the_circuit_is_open(
    client: Client, own_directory: JumpCloudDirectory
) -> None:
    # No guess is counted while sign-ins fail fast, so django-axes' own check must still refuse.
    fail_times(client, LIMIT)
    own_directory.halt()
    linus = BY_UID["linus"]
    while not breaker.DIRECTORY.failing_fast():
        assert UNAVAILABLE_ERROR in sign_in(client, linus.uid, linus.password).content.decode()
    response = sign_in(client, GRACE.uid, GRACE.password)
    assert response.status_code == 429
    assert lockout_error() in response.content.decode()
