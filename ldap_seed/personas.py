"""The demo personas: who they are in the seed and what the app must make of them.

The directory's truth is ``ldif/``; this table is what the tests, the README and ``make up``
expect of it, and a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ldap_seed import ACTIVE_GROUP, APP_GROUP, STAFF_GROUP, SUPERUSER_GROUP


@dataclass(frozen=True)
class Persona:
    uid: str
    groups: frozenset[str]
    outcome: str
    # "enabled", or a state in which JumpCloud disables the account in LDAP (binds fail):
    # "locked" (ldap_seed/csv_seed.py STATES writes each into the seed).
    state: str = "enabled"

    @property
    def password(self) -> str:
        return f"{self.uid}-demo-pass"

    @property
    def signs_in(self) -> bool:
        return APP_GROUP in self.groups and ACTIVE_GROUP in self.groups and self.state == "enabled"

    @property
    def is_staff(self) -> bool:
        return STAFF_GROUP in self.groups

    @property
    def is_superuser(self) -> bool:
        return SUPERUSER_GROUP in self.groups


PERSONAS = (
    Persona("ada", frozenset({APP_GROUP, "active", "staff", "superuser"}), "signs in, full admin"),
    Persona("grace", frozenset({APP_GROUP, "active", "staff"}), "signs in, staff admin"),
    Persona("linus", frozenset({APP_GROUP, "active"}), "signs in, no admin"),
    Persona("ken", frozenset({APP_GROUP}), "denied: inactive"),
    Persona("eve", frozenset({"active"}), "denied: not in the app group"),
    Persona("joan", frozenset({APP_GROUP, "active"}), "denied: locked in JumpCloud", state="locked"),
)
BY_UID = {persona.uid: persona for persona in PERSONAS}


def table() -> str:
    """The persona table as ``make up`` and the README print it."""
    rows = [("username", "password", "groups", "outcome")]
    rows += [(p.uid, p.password, ", ".join(sorted(p.groups)), p.outcome) for p in PERSONAS]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)
