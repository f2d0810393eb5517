"""Seed LDIF from a CSV in the format of JumpCloud's user import (PowerShell module,
``New-JCImportTemplate`` / ``Import-JCUsersFromCSV``).

Each column becomes the LDAP attribute JumpCloud serves it as (``COLUMNS``); ``Group1``,
``Group2``, ... name the user's groups, which must be groups the seed knows
(``ldap_seed.GROUPS``). Column names match case-insensitively; columns the LDAP directory does not
serve (``SystemID``, ``Administrator``, custom attributes) are ignored. Two optional columns, not in the import
template, put an account in a state JumpCloud disables in LDAP (the entry stays, binds fail):
``account_locked`` (``true``/``false``, named after the JumpCloud user API's field), written as
the ppolicy lock 11-password-policies.ldif explains. An expired password cannot be seeded (its
``pwdChangedTime`` is the directory's own): ``python -m ldap_seed state`` sets it on a running
directory. The output is a complete custom-bootstrap folder
in the committed seed's format: the seed's own configuration files, and ``20-users.ldif`` and
``30-groups.ldif`` made from the CSV. Every row is checked before anything is written, so a file
with a bad row loads nothing.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ldap_seed import GROUPS, LDIF_DIR, ORG_ID, SERVICE_UID

# Import column -> LDAP attribute, in the order the attributes are written.
COLUMNS = {
    "FirstName": "givenName",
    "LastName": "sn",
    "MiddleName": "initials",
    "preferredName": "displayName",
    "Email": "mail",
    "jobTitle": "title",
    "department": "departmentNumber",
    "costCenter": "businessCategory",
    "location": "physicalDeliveryOfficeName",
    "employeeIdentifier": "employeeNumber",
    "employeeType": "employeeType",
    "company": "company",
    "description": "description",
    "mobile_number": "mobile",
    "work_number": "telephoneNumber",
    "home_number": "homePhone",
    "work_fax_number": "facsimileTelephoneNumber",
    "work_streetAddress": "street",
    "work_poBox": "postOfficeBox",
    "work_city": "l",
    "work_state": "st",
    "work_postalCode": "postalCode",
}
REQUIRED = ("Username", "Email")
FIRST_UID_NUMBER = 5000
# Account state column -> the ppolicy attribute and value that put an entry in that state.
STATES = {"account_locked": "pwdAccountLockedTime: 000001010000Z"}
# Account state column -> that state's name in ldap_seed/states.py.
STATE_NAMES = {"account_locked": "locked"}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0", "")
GENERATED = ("20-users.ldif", "30-groups.ldif")
USERS_HEADER = """\
# Users, shaped like JumpCloud's: inetOrgPerson, shadowAccount and posixAccount in ou=Users.
# Made from a CSV in JumpCloud's import format by `python -m ldap_seed from-csv` (the committed
# seed: personas.csv). Passwords are the CSV's; the personas' are public demo passwords for this
# local directory only. A locked account carries the ppolicy attribute that disables it
# (11-password-policies.ldif).
"""
GROUPS_HEADER = """\
# Groups as JumpCloud serves them: groupOfNames beside the users in ou=Users, the group's name
# (spaces kept) as cn and ou, members as DNs. Added after the users so memberOf is built for each.
"""
_GROUP_COLUMN = re.compile(r"^group\d+$", re.IGNORECASE)


class CsvProblems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Row:
    line: int
    username: str
    values: dict[str, str]
    password: str
    groups: tuple[str, ...]
    states: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """The account's state as ldap_seed/states.py names it: "enabled" unless a state column is set."""
        return STATE_NAMES[self.states[0]] if self.states else "enabled"


def read_rows(path: Path) -> list[Row]:
    """Every row, checked; all problems at once, each with its line number."""
    with open(path, newline="", encoding="utf-8-sig") as csv_file:
        reader = csv.DictReader(csv_file)
        if reader.fieldnames is None:
            raise CsvProblems([f"{path}: empty file"])
        columns = {name.lower(): name for name in reader.fieldnames}
        missing = [name for name in REQUIRED if name.lower() not in columns]
        if missing:
            raise CsvProblems([f"line 1: no {' or '.join(missing)} column"])
        group_columns = sorted((c for c in reader.fieldnames if _GROUP_COLUMN.match(c)), key=lambda c: int(c[5:]))
        rows: list[Row] = []
        problems: list[str] = []
        seen: dict[str, int] = {}
        for record in reader:
            line = reader.line_num
            value = {
                name: (record.get(columns.get(name.lower(), ""), "") or "").strip()
                for name in (*COLUMNS, "Username", "Password")
            }
            username = value["Username"]
            for required in REQUIRED:
                if not value[required]:
                    problems.append(f"line {line}: {required} is empty")
            if username in seen:
                problems.append(f"line {line}: Username {username!r} is already on line {seen[username]}")
            elif username:
                seen[username] = line
            groups = tuple(g for c in group_columns if (g := (record.get(c) or "").strip()))
            for group in groups:
                if group not in GROUPS:
                    problems.append(f"line {line}: unknown group {group!r} (the seed knows {', '.join(GROUPS)})")
            states = []
            for state in STATES:
                flag = (record.get(columns.get(state.lower(), ""), "") or "").strip().lower()
                if flag in _TRUE:
                    states.append(state)
                elif flag not in _FALSE:
                    problems.append(f"line {line}: {state} is {flag!r}, not true or false")
            rows.append(Row(line, username, {k: value[k] for k in COLUMNS}, value["Password"], groups, tuple(states)))
    if problems:
        raise CsvProblems(problems)
    return rows


def users_ldif(rows: Iterable[Row]) -> str:
    blocks = [USERS_HEADER.rstrip("\n")]
    for number, row in enumerate(rows, start=FIRST_UID_NUMBER):
        dn = f"uid={row.username},ou=Users,o={ORG_ID},{{{{ LDAP_BASE_DN }}}}"
        lines = [
            f"dn: {dn}",
            "objectClass: top",
            "objectClass: person",
            "objectClass: organizationalPerson",
            "objectClass: inetOrgPerson",
            "objectClass: shadowAccount",
            "objectClass: posixAccount",
            "objectClass: jumpCloudUser",
            f"uid: {row.username}",
            f"cn: {row.values['FirstName']} {row.values['LastName']}".rstrip(),
        ]
        lines += [f"{COLUMNS[column]}: {value}" for column, value in row.values.items() if value]
        lines += [
            f"uidNumber: {number}",
            f"gidNumber: {number}",
            f"homeDirectory: /home/{row.username}",
            "loginShell: /bin/bash",
        ]
        if row.password:
            lines.append(f"userPassword: {row.password}")
        lines += [STATES[state] for state in row.states]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def groups_ldif(rows: Iterable[Row]) -> str:
    members: dict[str, list[str]] = {name: [] for name in GROUPS}
    for row in rows:
        for group in row.groups:
            members[group].append(f"uid={row.username},ou=Users,o={ORG_ID},{{{{ LDAP_BASE_DN }}}}")
    blocks = [GROUPS_HEADER.rstrip("\n")]
    for name, description in GROUPS.items():
        if not members[name]:
            continue  # groupOfNames needs a member; JumpCloud serves a group only once it has one
        lines = [
            f"dn: cn={name},ou=Users,o={ORG_ID},{{{{ LDAP_BASE_DN }}}}",
            "objectClass: top",
            "objectClass: groupOfNames",
            f"cn: {name}",
            f"ou: {name}",
            f"description: {description}",
            *(f"member: {m}" for m in members[name]),
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_seed(csv_path: Path, out_dir: Path) -> list[str]:
    """Write the seed folder for ``csv_path`` into ``out_dir``; return notes for the person running it."""
    rows = read_rows(csv_path)
    notes = []
    if SERVICE_UID not in {row.username for row in rows}:
        notes.append(f"no {SERVICE_UID} row: the app's bind account will not exist (the seed's access rules name it)")
    with tempfile.TemporaryDirectory(dir=out_dir.parent if out_dir.parent.exists() else None) as scratch:
        staging = Path(scratch) / "seed"
        staging.mkdir()
        for path in sorted(LDIF_DIR.glob("*.ldif")):
            if path.name not in GENERATED:
                shutil.copy2(path, staging / path.name)
        (staging / "20-users.ldif").write_text(users_ldif(rows), encoding="utf-8")
        (staging / "30-groups.ldif").write_text(groups_ldif(rows), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging, out_dir)
    return notes
