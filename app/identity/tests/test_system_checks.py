"""Directory mistakes are system checks with their own ids and a sentence saying what to fix."""

from __future__ import annotations

import pytest
from django.test import override_settings

from devstack.testing import ldap_settings_for
from identity.checks import check_directory_settings
from ldap_seed.directory import JumpCloudDirectory


def ids_for(directory: JumpCloudDirectory, **environment: str) -> list[str]:
    with override_settings(DEBUG=False, **ldap_settings_for(directory, **environment)):
        return [message.id for message in check_directory_settings(None)]  # type: ignore[misc]


def test_the_test_configuration_passes(directory: JumpCloudDirectory) -> None:
    assert ids_for(directory) == []


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LDAP_BASE_DN": ""}, "identity.E001"),
        ({"LDAP_BIND_DN": ""}, "identity.E002"),
        ({"LDAP_BIND_PASSWORD": ""}, "identity.E003"),
        ({"LDAP_STAFF_GROUP": "cn=staff,ou=Groups,dc=example,dc=com"}, "identity.W004"),
        ({"LDAP_URI": "ldap://ldap.jumpcloud.com:389", "LDAP_START_TLS": "false"}, "identity.E005"),
        ({"LDAP_URI": "ldaps://ldap.jumpcloud.com:636", "LDAP_START_TLS": "true"}, "identity.E006"),
    ],
)
def test_each_mistake_has_its_own_check(
    directory: JumpCloudDirectory, environment: dict[str, str], expected: str
) -> None:
    assert ids_for(directory, **environment) == [expected]


def test_plain_ldap_is_fine_with_starttls_or_to_this_machine(directory: JumpCloudDirectory) -> None:
    assert ids_for(directory, LDAP_URI="ldap://ldap.jumpcloud.com:389", LDAP_START_TLS="true") == []
    assert ids_for(directory, LDAP_URI="ldap://127.0.0.1:3389", LDAP_START_TLS="false") == []
    assert ids_for(directory, LDAP_URI="ldaps://ldap.jumpcloud.com:636", LDAP_START_TLS="false") == []


@pytest.mark.parametrize("name", ["Tier=1", "R&D, Europe", "a+b", "Ops (EU)", "cn=Staff"])
def test_group_names_with_dn_characters_are_names(directory: JumpCloudDirectory, name: str) -> None:
    assert ids_for(directory, LDAP_STAFF_GROUP=name) == []


def test_group_given_as_a_dn_inside_the_base_is_accepted(directory: JumpCloudDirectory) -> None:
    base = "ou=Users,o=5f0c1a2b3c4d5e6f7a8b9c0d,dc=jumpcloud,dc=com"
    assert ids_for(directory, LDAP_STAFF_GROUP=f"cn=Staff Team,{base}") == []


def test_messages_say_what_to_fix(directory: JumpCloudDirectory) -> None:
    with override_settings(**ldap_settings_for(directory, LDAP_BIND_PASSWORD="")):
        [message] = check_directory_settings(None)
    assert "LDAP_BIND_PASSWORD is empty" in message.msg
    assert "LDAP_BIND_PASSWORD_FILE" in (message.hint or "")
