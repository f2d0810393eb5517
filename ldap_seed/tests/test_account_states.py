"""The local directory puts accounts in the states JumpCloud gives them in LDAP.

JumpCloud answers binds carrying the password-policy request control, and disables (binds fail,
the entry stays) or removes a user it has locked out or whose password expired. The seed does
both with slapd's ppolicy overlay; joan is seeded locked.
"""

from __future__ import annotations

import ldap
import pytest
from ldap.controls import DecodeControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl

from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID
from ldap_seed.states import set_state

ACCOUNT_LOCKED, PASSWORD_EXPIRED = 1, 0  # ppolicy's error codes in its response control


def bind_with_policy_control(directory: JumpCloudDirectory, uid: str) -> tuple[str, int | None]:
    """Bind as the persona with the control critical, as a client of JumpCloud may: the result
    name and the response control's error."""
    connection = ldap.initialize(directory.ldap_uri)
    try:
        _, _, _, controls = connection.simple_bind_s(
            user_dn(uid), BY_UID[uid].password, serverctrls=[PasswordPolicyControl(criticality=True)]
        )
        [response] = controls
        return "success", response.error
    except ldap.INVALID_CREDENTIALS as refused:
        [response] = DecodeControlTuples(refused.args[0]["ctrls"])
        return "invalidCredentials", response.error
    finally:
        connection.unbind_s()


def test_bind_with_the_password_policy_control_is_answered(directory: JumpCloudDirectory) -> None:
    # Without the ppolicy overlay slapd refuses the critical control (unavailableCriticalExtension).
    assert bind_with_policy_control(directory, "linus") == ("success", None)


def test_joan_is_seeded_locked(directory: JumpCloudDirectory) -> None:
    assert BY_UID["joan"].state == "locked"
    assert bind_with_policy_control(directory, "joan") == ("invalidCredentials", ACCOUNT_LOCKED)
    with pytest.raises(ldap.INVALID_CREDENTIALS):
        ldap.initialize(directory.ldap_uri).simple_bind_s(user_dn("joan"), BY_UID["joan"].password)


def test_users_carry_jumpclouds_object_classes(directory: JumpCloudDirectory) -> None:
    connection = ldap.initialize(directory.ldap_uri)
    connection.simple_bind_s(SERVICE_DN, SERVICE_PASSWORD)
    entries = connection.search_s(USERS_DN, ldap.SCOPE_ONELEVEL, "(uid=*)", ["objectClass"])
    expected = {b"top", b"person", b"organizationalPerson", b"inetOrgPerson", b"shadowAccount", b"posixAccount"}
    for dn, attrs in entries:
        assert expected <= set(attrs["objectClass"]), dn


def test_each_state_and_back(own_directory: JumpCloudDirectory) -> None:
    set_state(own_directory.ldap_uri, "linus", "expired")
    assert bind_with_policy_control(own_directory, "linus") == ("invalidCredentials", PASSWORD_EXPIRED)
    set_state(own_directory.ldap_uri, "linus", "locked")
    assert bind_with_policy_control(own_directory, "linus") == ("invalidCredentials", ACCOUNT_LOCKED)
    set_state(own_directory.ldap_uri, "linus", "enabled")
    assert bind_with_policy_control(own_directory, "linus") == ("success", None)
    set_state(own_directory.ldap_uri, "joan", "enabled")
    assert bind_with_policy_control(own_directory, "joan") == ("success", None)


def test_failed_binds_never_lock_anyone(own_directory: JumpCloudDirectory) -> None:
    for _ in range(8):
        with pytest.raises(ldap.INVALID_CREDENTIALS):
            ldap.initialize(own_directory.ldap_uri).simple_bind_s(user_dn("grace"), "wrong")
    assert bind_with_policy_control(own_directory, "grace") == ("success", None)


def test_removed_is_gone_from_the_directory_and_its_groups(own_directory: JumpCloudDirectory) -> None:
    set_state(own_directory.ldap_uri, "ken", "removed")
    connection = ldap.initialize(own_directory.ldap_uri)
    connection.simple_bind_s(SERVICE_DN, SERVICE_PASSWORD)
    assert connection.search_s(USERS_DN, ldap.SCOPE_ONELEVEL, f"(|(uid=ken)(member={user_dn('ken')}))") == []
