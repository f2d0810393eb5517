"""Put a user of the local directory in one of the states JumpCloud gives an account in LDAP.

JumpCloud's LDAP server either disables a user it has locked out or whose password expired (the
entry stays, binds fail) or removes the entry, as its ``userLockoutAction`` and
``userPasswordExpirationAction`` say. Here slapd's ppolicy overlay does the disabling, with the
policies of ``ldif/11-password-policies.ldif``:

- ``enabled``: none of the below;
- ``locked``: ``pwdAccountLockedTime: 000001010000Z`` (locked until an admin unlocks);
- ``expired``: ``pwdPolicySubentry`` names the policy whose passwords last a second, and
  ``pwdChangedTime`` is long past (the directory's own attribute: set with the relax control);
- ``removed``: the entry is deleted (memberOf's referential integrity drops it from its groups).

Changes are made as the directory's root DN, ``cn=admin``.
"""

from __future__ import annotations

import ldap
from ldap.controls.simple import RelaxRulesControl

from ldap_seed import ADMIN_DN, ADMIN_PASSWORD, DOMAIN_DN, user_dn

STATES = ("enabled", "locked", "expired", "removed")
LOCKED_UNTIL_UNLOCKED = b"000001010000Z"
EXPIRED_POLICY_DN = f"cn=passwords-expired,ou=Policies,{DOMAIN_DN}"
LONG_AGO = b"20000101000000Z"
# The attributes that make a state; "enabled" is the absence of all of them.
STATE_ATTRIBUTES = ("pwdAccountLockedTime", "pwdPolicySubentry", "pwdChangedTime")


def set_state(ldap_uri: str, uid: str, state: str) -> None:
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    dn = user_dn(uid)
    connection = ldap.initialize(ldap_uri)
    try:
        connection.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        if state == "removed":
            connection.delete_s(dn)
            return
        [(_, present)] = connection.search_s(dn, ldap.SCOPE_BASE, attrlist=list(STATE_ATTRIBUTES))
        changes: list[tuple[int, str, list[bytes] | None]] = [
            (ldap.MOD_DELETE, name, None) for name in STATE_ATTRIBUTES if name in present
        ]
        if state == "locked":
            changes.append((ldap.MOD_ADD, "pwdAccountLockedTime", [LOCKED_UNTIL_UNLOCKED]))
        elif state == "expired":
            changes.append((ldap.MOD_ADD, "pwdPolicySubentry", [EXPIRED_POLICY_DN.encode()]))
            changes.append((ldap.MOD_ADD, "pwdChangedTime", [LONG_AGO]))
        if changes:
            connection.modify_ext_s(dn, changes, serverctrls=[RelaxRulesControl(criticality=True)])
    finally:
        connection.unbind_s()
