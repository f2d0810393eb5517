"""What a sign-in costs the directory, counted in slapd's own statistics log."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.test import Client, override_settings

from devstack.testing import ldap_settings_for, sign_in_as
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, PERSONAS

pytestmark = pytest.mark.django_db


def operations(directory: JumpCloudDirectory, uid: str) -> Counter[str]:
    before = directory.log_size()
    authenticate(username=uid, password=BY_UID[uid].password)
    return directory.operations_since(before)


def test_a_first_sign_in_is_three_operations(directory: JumpCloudDirectory) -> None:
    counted = operations(directory, "ada")  # the thread's first: its two connections are opened
    assert counted["EXT"] == 2, counted  # StartTLS on each
    assert counted["BIND"] == 2, counted  # the service account, then ada
    assert counted["SRCH"] == 1, counted  # ada's entry, memberOf included
    assert counted["CMP"] == 0, counted
    assert counted["BIND"] + counted["SRCH"] + counted["CMP"] <= 3


def test_a_sign_in_on_kept_connections_is_a_search_and_a_bind(directory: JumpCloudDirectory) -> None:
    operations(directory, "ada")
    for uid in ("grace", "ada"):
        assert operations(directory, uid) == Counter({"SRCH": 1, "BIND": 1}), uid  # the entry, then the bind


def test_the_group_search_fallback_gives_the_same_outcomes_at_a_higher_cost(directory: JumpCloudDirectory) -> None:
    operations(directory, "ada")
    with_memberof = operations(directory, "ada")
    with override_settings(**ldap_settings_for(directory, LDAP_GROUP_SOURCE="search")):
        for persona in PERSONAS:
            user = authenticate(username=persona.uid, password=persona.password)
            assert (user is not None and user.is_active) is persona.signs_in, persona.uid
            if user is not None:
                assert set(user.groups.values_list("name", flat=True)) == persona.groups
        counted = operations(directory, "ada")
    assert counted == Counter({"SRCH": 2, "BIND": 1}), counted  # the groups searched too
    assert sum(counted.values()) > sum(with_memberof.values())


def test_an_authenticated_page_view_costs_nothing(client: Client, directory: JumpCloudDirectory) -> None:
    sign_in_as(client, BY_UID["linus"])
    before = directory.log_size()
    for path in ("/", "/profile/"):
        assert client.get(path).status_code == 200
    assert directory.operations_since(before) == Counter()


def test_admin_pages_check_permissions_without_asking_the_directory(
    client: Client, directory: JumpCloudDirectory
) -> None:
    sign_in_as(client, BY_UID["grace"])
    before = directory.log_size()
    for path in ("/admin/", "/admin/auth/group/"):
        client.get(path)
    assert directory.operations_since(before) == Counter()


def test_an_unknown_name_costs_the_round_trips_of_a_wrong_password(directory: JumpCloudDirectory) -> None:
    # The person's own bind is what a wrong password costs; an unknown name pays it too, as a
    # bind that cannot succeed, so the time of the answer does not tell them apart
    # (make bench measures it with the directory 10 ms away).
    operations(directory, "ada")  # this thread's connections opened: both sides reuse them
    counted = {}
    for username in ("linus", "nobody-by-this-name"):
        before = directory.log_size()
        assert authenticate(username=username, password="a-wrong-guess") is None
        counted[username] = directory.operations_since(before)
    assert counted["nobody-by-this-name"] == counted["linus"]
    assert counted["linus"] == Counter({"SRCH": 1, "BIND": 1})
