"""Large generated directories, shaped like the seed: N users spread over the seed's groups.

Every user gets the full set of profile attributes. Membership is deterministic: of every 10
users, 8 are in the app group, and of those 9 in 10 are active, 1 in 5 staff, 1 in 50 superusers;
the rest are outsiders (only ``active``), as eve is. Passwords are ``<uid>-pass``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ldap_seed import ACTIVE_GROUP, APP_GROUP, GROUPS, STAFF_GROUP, SUPERUSER_GROUP, USERS_DN, group_dn


@dataclass(frozen=True)
class GeneratedUser:
    number: int

    @property
    def uid(self) -> str:
        return f"user{self.number:06d}"

    @property
    def password(self) -> str:
        return f"{self.uid}-pass"

    @property
    def groups(self) -> frozenset[str]:
        n = self.number
        if n % 10 >= 8:
            return frozenset({ACTIVE_GROUP})
        groups = {APP_GROUP}
        if n % 10 != 7:
            groups.add(ACTIVE_GROUP)
        if n % 5 == 0:
            groups.add(STAFF_GROUP)
        if n % 50 == 0:
            groups.add(SUPERUSER_GROUP)
        return frozenset(groups)


def users(count: int) -> list[GeneratedUser]:
    return [GeneratedUser(number) for number in range(count)]


def users_ldif(count: int) -> Iterator[str]:
    for user in users(count):
        n, uid = user.number, user.uid
        yield (
            f"dn: uid={uid},{USERS_DN}\n"
            "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
            "objectClass: inetOrgPerson\nobjectClass: shadowAccount\nobjectClass: posixAccount\n"
            "objectClass: jumpCloudUser\n"
            f"uid: {uid}\ncn: Given{n} Family{n}\ngivenName: Given{n}\nsn: Family{n}\ninitials: G\n"
            f"displayName: Given{n} Family{n}\nmail: {uid}@example.com\ntitle: Engineer {n % 7}\n"
            f"departmentNumber: Dept {n % 13}\nbusinessCategory: CC-{n % 17:04d}\n"
            f"physicalDeliveryOfficeName: Office {n % 11}\nemployeeNumber: E{n:06d}\n"
            f"employeeType: Full-time\ncompany: Generated Ltd\ndescription: Generated user {n}\n"
            f"mobile: +1 555 {n:07d}\nuidNumber: {10000 + n}\ngidNumber: {10000 + n}\n"
            f"homeDirectory: /home/{uid}\nuserPassword: {user.password}\n"
        )


def groups_ldif(count: int) -> Iterator[str]:
    members: dict[str, list[str]] = {name: [] for name in GROUPS}
    for user in users(count):
        for name in user.groups:
            members[name].append(f"uid={user.uid},{USERS_DN}")
    for name in GROUPS:
        lines = [
            f"dn: {group_dn(name)}",
            "changetype: modify",
            "add: member",
            *(f"member: {dn}" for dn in members[name]),
        ]
        if members[name]:
            yield "\n".join(lines) + "\n"
