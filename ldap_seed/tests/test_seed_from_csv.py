"""`python -m ldap_seed from-csv`: JumpCloud's import CSV to seed LDIF, checked row by row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.test import override_settings

from devstack.native import REPO_DIR, NativeStack
from devstack.testing import ldap_settings_for
from ldap_seed import LDIF_DIR
from ldap_seed.csv_seed import CsvProblems, write_seed
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS, PERSONAS_CSV

pytestmark = pytest.mark.stack

HEADER = "FirstName,LastName,Username,Email,Password,jobTitle,Group1,Group2\n"


def test_personas_csv_gives_the_committed_seed_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "seed"
    assert write_seed(PERSONAS_CSV, out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in LDIF_DIR.glob("*.ldif"))
    for path in LDIF_DIR.glob("*.ldif"):
        assert (out / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} is not personas.csv's; rewrite the seed with "
            "python -m ldap_seed from-csv ldap_seed/personas.csv --out ldap_seed/ldif"
        )


@pytest.mark.django_db
def test_csv_to_directory_to_sign_in_gives_the_personas_outcomes(tmp_path: Path) -> None:
    write_seed(PERSONAS_CSV, tmp_path / "seed")
    directory = JumpCloudDirectory(tmp_path / "ldap", ephemeral=True, ldif_dir=tmp_path / "seed")
    directory.start()
    try:
        with override_settings(**ldap_settings_for(directory)):
            for persona in PERSONAS:
                user = authenticate(username=persona.uid, password=persona.password)
                assert (user is not None and user.is_active) is persona.signs_in, persona.uid
                if user is not None:
                    assert set(user.groups.values_list("name", flat=True)) == persona.groups
    finally:
        directory.stop()


def test_columns_map_to_the_attributes_jumpcloud_serves(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "Username,FirstName,LastName,Email,Password,middlename,preferredName,jobTitle,employeeIdentifier,department,"
        "costCenter,company,employeeType,description,location,mobile_number,work_number,SystemID,Group1\n"
        "zoe,Zoë,Ångström,zoe@example.com,pw,Q,Zoë Å.,Analyst,E-9,Data,"
        "CC-9,Acme,Intern,New,Oslo,+47 1,+47 2,abc123,Django App\n",
        encoding="utf-8",
    )
    write_seed(source, tmp_path / "seed")
    ldif = (tmp_path / "seed" / "20-users.ldif").read_text(encoding="utf-8")
    for line in (
        "uid: zoe",
        "cn: Zoë Ångström",
        "givenName: Zoë",
        "sn: Ångström",
        "initials: Q",
        "displayName: Zoë Å.",
        "mail: zoe@example.com",
        "title: Analyst",
        "employeeNumber: E-9",
        "departmentNumber: Data",
        "businessCategory: CC-9",
        "company: Acme",
        "employeeType: Intern",
        "description: New",
        "physicalDeliveryOfficeName: Oslo",
        "mobile: +47 1",
        "telephoneNumber: +47 2",
        "userPassword: pw",
    ):
        assert line in ldif.splitlines(), line
    assert "abc123" not in ldif


def test_account_locked_column_locks_the_account_as_ppolicy_does(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "Username,FirstName,LastName,Email,Password,account_locked\n"
        "ann,Ann,A,ann@example.com,pw,TRUE\nbob,Bob,B,bob@example.com,pw,false\ncy,Cy,C,cy@example.com,pw,\n"
    )
    write_seed(source, tmp_path / "seed")
    entries = (tmp_path / "seed" / "20-users.ldif").read_text().split("\n\n")[1:]
    locked = {entry.split("\n", 1)[0]: "pwdAccountLockedTime: 000001010000Z" in entry for entry in entries}
    assert list(locked.values()) == [True, False, False]
    assert all("objectClass: shadowAccount" in entry for entry in entries)


def test_account_locked_must_be_true_or_false(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text("Username,Email,account_locked\nann,ann@example.com,maybe\n")
    with pytest.raises(CsvProblems) as raised:
        write_seed(source, tmp_path / "seed")
    assert raised.value.problems == ["line 2: account_locked is 'maybe', not true or false"]


def test_bad_rows_are_reported_with_their_line_and_nothing_is_written(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        HEADER
        + "Ann,A,ann,ann@example.com,pw,,Django App,\n"
        + "Bob,B,,bob@example.com,pw,,,\n"
        + "Cy,C,cy,,pw,,,\n"
        + "Ann,Again,ann,ann2@example.com,pw,,,\n"
        + "Dee,D,dee,dee@example.com,pw,,Django App,Wizards\n"
    )
    out = tmp_path / "seed"
    with pytest.raises(CsvProblems) as raised:
        write_seed(source, out)
    assert raised.value.problems == [
        "line 3: Username is empty",
        "line 4: Email is empty",
        "line 5: Username 'ann' is already on line 2",
        "line 6: unknown group 'Wizards' (the seed knows Django App, active, staff, superuser)",
    ]
    assert not out.exists()


def test_an_existing_seed_folder_is_left_as_it_was_when_the_csv_is_bad(tmp_path: Path) -> None:
    out = tmp_path / "seed"
    write_seed(PERSONAS_CSV, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Ann,A,,ann@example.com,pw,,,\n")
    with pytest.raises(CsvProblems):
        write_seed(bad, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_command_line_says_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Ann,A,,ann@example.com,pw,,,\n")
    result = subprocess.run(
        [sys.executable, "-m", "ldap_seed", "from-csv", str(bad), "--out", str(tmp_path / "o")],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "was not loaded:" in result.stderr
    assert "line 2: Username is empty" in result.stderr


def test_the_native_stack_starts_from_a_csv(tmp_path: Path) -> None:
    source = tmp_path / "team.csv"
    source.write_text(
        PERSONAS_CSV.read_text(encoding="utf-8")
        + "Nia,New,nia,nia@example.com,nia-pass,,,,,,,,,,,,Django App,active,,\n",
        encoding="utf-8",
    )
    seed = tmp_path / "seed"
    write_seed(source, seed)
    stack = NativeStack(tmp_path / "run")
    stack.up(extra_env={"SEED_LDIF_DIR": str(seed)})
    try:
        answer = stack.browser().sign_in("nia", "nia-pass")
        assert (answer.status, answer.location) == (302, "/")
    finally:
        stack.down()
