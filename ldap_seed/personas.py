"""The demo personas: who they are in the seed and what the app must make of them.

Who they are (uid, password, groups, account state, name and the other attributes) is stated
once, in ``personas.csv``: the seed's users in JumpCloud's import format, of which every row but
the service account is a persona. ``ldif/`` is made from the same file (a test holds the two equal
byte for byte), and this module only reads it. What the app must make of a persona, its ``role``
and ``outcome``, follows from its groups and state by the app's default group settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ldap_seed import ACTIVE_GROUP, APP_GROUP, SEED_DIR, SERVICE_UID, STAFF_GROUP, SUPERUSER_GROUP
from ldap_seed.csv_seed import COLUMNS, Row, read_rows

PERSONAS_CSV = SEED_DIR / "personas.csv"

# Each role a persona can play (the browser suite's fixtures are named for them), and the outcome
# of its sign-in as ``make up`` and the README print it.
OUTCOMES = {
    "superuser": "signs in, full admin",
    "staff": "signs in, staff admin",
    "member": "signs in, no admin",
    "inactive": "denied: inactive",
    "outsider": "denied: not in the app group",
    "locked": "denied: locked in JumpCloud",
}


@dataclass(frozen=True)
class Persona:
    uid: str
    password: str
    groups: frozenset[str]
    # "enabled", or a state in which JumpCloud disables the account in LDAP (binds fail):
    # "locked" (personas.csv's account_locked column).
    state: str = "enabled"
    # The LDAP attributes the seed gives the persona, those with a value: the CSV's columns as
    # JumpCloud serves them (givenName, displayName, mobile, ...).
    attributes: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_row(cls, row: Row) -> Persona:
        attributes = {COLUMNS[column]: value for column, value in row.values.items() if value}
        return cls(row.username, row.password, frozenset(row.groups), row.state, attributes)

    @property
    def display_name(self) -> str:
        return self.attributes.get("displayName", "")

    @property
    def signs_in(self) -> bool:
        return APP_GROUP in self.groups and ACTIVE_GROUP in self.groups and self.state == "enabled"

    @property
    def is_staff(self) -> bool:
        return STAFF_GROUP in self.groups

    @property
    def is_superuser(self) -> bool:
        return SUPERUSER_GROUP in self.groups

    @property
    def role(self) -> str:
        if self.state != "enabled":
            return "locked"
        if APP_GROUP not in self.groups:
            return "outsider"
        if ACTIVE_GROUP not in self.groups:
            return "inactive"
        if self.is_superuser:
            return "superuser"
        return "staff" if self.is_staff else "member"

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.role]


PERSONAS = tuple(Persona.from_row(row) for row in read_rows(PERSONAS_CSV) if row.username != SERVICE_UID)
BY_UID = {persona.uid: persona for persona in PERSONAS}


def table() -> str:
    """The persona table as ``make up`` and the README print it."""
    rows = [("username", "password", "groups", "outcome")]
    rows += [(p.uid, p.password, ", ".join(sorted(p.groups)), p.outcome) for p in PERSONAS]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)
