"""An open session ends within LDAP_REVALIDATE_SECONDS of the person leaving the app group."""

from __future__ import annotations

import time
import urllib.parse
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from devstack.delay_proxy import DelayProxy
from devstack.testing import ldap_settings_for, remove_member, sign_in, sign_in_as
from identity.revalidation import CHECKED_AT
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
LINUS = BY_UID["linus"]


def age_the_check(client: Client, seconds: float) -> None:
    session = client.session
    session[CHECKED_AT] = session[CHECKED_AT] - seconds
    session.save()


@pytest.mark.parametrize("group", ["Django App", "active"])
def test_session_ends_once_the_interval_has_passed(
    client: Client, own_directory: JumpCloudDirectory, group: str
) -> None:
    sign_in_as(client, LINUS)
    assert client.get("/").status_code == 200
    remove_member(own_directory, LINUS.uid, group)
    assert client.get("/").status_code == 200, "within the interval the session goes on"
    age_the_check(client, 301)
    response = client.get("/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/profile/"
    assert "_auth_user_id" not in client.session


def test_no_directory_operation_within_the_interval(client: Client, directory: JumpCloudDirectory) -> None:
    sign_in_as(client, LINUS)
    client.get("/")
    before = directory.log_size()
    client.get("/profile/")
    assert directory.operations_since(before) == Counter()
    age_the_check(client, 301)
    client.get("/profile/")
    # the service bind and the search, on a connection opened with StartTLS
    assert directory.operations_since(before) == Counter({"BIND": 1, "SRCH": 1, "EXT": 1})


def test_session_goes_on_while_the_directory_is_away(
    client: Client, own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in_as(client, LINUS)
    client.get("/")
    own_directory.halt()
    age_the_check(client, 301)
    assert client.get("/profile/").status_code == 200
    assert "could not revalidate 'linus': the directory did not answer" in caplog.text


def test_local_accounts_are_not_revalidated(client: Client, directory: JumpCloudDirectory) -> None:
    get_user_model().objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    sign_in(client, "breakglass", "break-glass-password-1")
    client.get("/")
    with override_settings(LDAP_REVALIDATE_SECONDS=0):
        before = directory.log_size()
        assert client.get("/").status_code == 200
        assert directory.operations_since(before) == Counter()


def timed_get(client: Client, path: str) -> tuple[float, int]:
    started = time.monotonic()
    status = client.get(path).status_code
    return time.monotonic() - started, status


@override_settings(LDAP_REVALIDATE_WAIT_SECONDS=0.25)
def test_a_frozen_directory_does_not_hold_the_page(client: Client, own_directory: JumpCloudDirectory) -> None:
    sign_in_as(client, LINUS)
    client.get("/")
    age_the_check(client, 301)
    own_directory.freeze()
    try:
        elapsed, status = timed_get(client, "/profile/")
    finally:
        own_directory.thaw()
    assert status == 200
    assert elapsed < 1, f"the page waited {elapsed:.2f} s for the directory"  # LDAP_TIMEOUT is 3 s here


def test_a_deactivated_directory_user_is_signed_out_whatever_the_directory_says(
    client: Client, directory: JumpCloudDirectory
) -> None:
    sign_in_as(client, LINUS)
    get_user_model().objects.filter(username=LINUS.uid).update(is_active=False)
    response = client.get("/profile/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)  # the late answer is written from the check's own thread
@override_settings(LDAP_REVALIDATE_WAIT_SECONDS=0.25)
def test_an_answer_that_comes_after_the_page_still_ends_the_session(
    client: Client, own_directory: JumpCloudDirectory
) -> None:
    sign_in_as(client, LINUS)
    client.get("/")
    remove_member(own_directory, LINUS.uid, "Django App")
    age_the_check(client, 301)
    address = urllib.parse.urlsplit(own_directory.ldap_uri)
    with (
        DelayProxy((address.hostname or "", address.port or 389), to_client=0.2) as slow,
        override_settings(**ldap_settings_for(own_directory, LDAP_URI=f"ldap://127.0.0.1:{slow.port}")),
    ):
        elapsed, status = timed_get(client, "/profile/")
        assert status == 200, "the page did not wait for the slow answer"
        assert elapsed < 1
        deadline = time.monotonic() + 5
        while get_user_model().objects.get(username=LINUS.uid).is_active and time.monotonic() < deadline:
            time.sleep(0.1)
    response = client.get("/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/profile/"
