"""What a sign-in costs the directory, counted in slapd's own statistics log."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.test import Client, override_settings
from identity import ldap_client

from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, PERSONAS
from tests.helpers import ldap_settings_for, sign_in_as

pytestmark = pytest.mark.django_db


def operations(directory: JumpCloudDirectory, uid: str) -> Counter[str]:
    before = directory.log_size()
    authenticate(username=uid, password=BY_UID[uid].password)
    return directory.operations_since(before)


def test_a_first_sign_in_is_three_operations(directory: JumpCloudDirectory) -> None:
    ldap_client.drop_held_connection()  # the thread's first: its connections are opened
    counted = operations(directory, "ada")
    assert counted["BIND"] == 2, counted  # the service account, then ada
    assert counted["SRCH"] == 1, counted  # ada's entry, memberOf included
    assert counted["CMP"] == 0, counted
    assert counted["BIND"] + counted["SRCH"] + counted["CMP"] <= 3


def test_a_sign_in_on_kept_connections_is_two_operations(directory: JumpCloudDirectory) -> None:
    operations(directory, "ada")
    counted = operations(directory, "ada")
    assert counted == Counter({"SRCH": 1, "BIND": 1}), counted  # ada's entry, then ada's bind


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
    assert sum(counted.values()) > sum(with_memberof.values()), (counted, with_memberof)


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
