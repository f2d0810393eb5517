"""An open session ends within LDAP_REVALIDATE_SECONDS of the person leaving the app group."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from identity.revalidation import CHECKED_AT

from ldap_seed import group_dn, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID
from tests.helpers import sign_in, sign_in_as

pytestmark = pytest.mark.django_db
LINUS = BY_UID["linus"]


def remove_from(directory: JumpCloudDirectory, group: str) -> None:
    directory.modify(f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {user_dn(LINUS.uid)}\n")


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
    remove_from(own_directory, group)
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
    # the search, on the connection the sign-in left bound as the service account
    assert directory.operations_since(before) == Counter({"SRCH": 1})


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
