"""One account decision everywhere: the inputs on which sign-in, ldap_sync, revalidation, doctor and
the lockout used to disagree (issue 11), each against the real slapd."""

from __future__ import annotations

import logging
import unicodedata

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client, override_settings

from devstack.testing import (
    add_group,
    add_user,
    authenticate_with_reason,
    ldap_settings_for,
    remove_member,
    rename_user,
    run_doctor,
    sign_in,
    sign_in_as,
)
from identity import decisions
from identity.checks import check_directory_settings
from identity.models import DirectoryProfile
from identity.sync import sync
from ldap_seed import USERS_DN, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, PERSONAS

pytestmark = pytest.mark.django_db
User = get_user_model()
GRACE, LINUS = BY_UID["grace"], BY_UID["linus"]
MEMBERS = [p for p in PERSONAS if "Django App" in p.groups]


# 1. Group settings in another letter case than the directory's ---------------------------------


def test_group_settings_in_another_case_agree_everywhere(directory: JumpCloudDirectory) -> None:
    for persona in PERSONAS:
        authenticate(username=persona.uid, password=persona.password)
    with override_settings(**ldap_settings_for(directory, LDAP_REQUIRE_GROUP="django app", LDAP_STAFF_GROUP="Staff")):
        grace = authenticate(username=GRACE.uid, password=GRACE.password)
        assert grace is not None
        assert grace.is_staff
        passed, report = run_doctor("--user", "grace")
        assert passed, report
        assert "is_staff=True" in report
        summary = sync(dry_run=True)
        assert (summary.deactivated, summary.refused_deactivations) == (0, 0)
        # A locked account (joan) cannot sign in, but JumpCloud keeps its entry and groups: the sync creates it.
        signed_in = sum(1 for p in MEMBERS if p.state == "enabled")
        assert (summary.created, summary.updated, summary.unchanged) == (len(MEMBERS) - signed_in, 0, signed_in)


def test_sync_does_not_flip_staff_given_in_another_case(directory: JumpCloudDirectory) -> None:
    with override_settings(**ldap_settings_for(directory, LDAP_STAFF_GROUP="Staff")):
        authenticate(username=GRACE.uid, password=GRACE.password)
        sync()
        assert User.objects.get(username="grace").is_staff
        assert sync().updated == 0
        assert User.objects.get(username="grace").is_staff


# 2. A group whose name contains "=" -----------------------------------------------------------


@pytest.mark.parametrize("source", ["memberof", "search"])
def test_group_name_with_an_equals_sign(own_directory: JumpCloudDirectory, source: str) -> None:
    add_group(own_directory, "Tier=1", "linus")
    with override_settings(**ldap_settings_for(own_directory, LDAP_STAFF_GROUP="Tier=1", LDAP_GROUP_SOURCE=source)):
        assert check_directory_settings(None) == []
        linus, reason = authenticate_with_reason(LINUS.uid, LINUS.password)
        assert linus is not None, reason
        assert linus.is_staff
        assert "Tier=1" in set(linus.groups.values_list("name", flat=True))
        assert sync().updated == 0


# 3. A username change in JumpCloud ------------------------------------------------------------


def test_a_rename_keeps_one_django_user(own_directory: JumpCloudDirectory, client: Client) -> None:
    sign_in_as(client, GRACE)
    grace = User.objects.get(username="grace")
    rename_user(own_directory, "grace", "grace.h")
    assert sign_in(Client(), "grace.h", GRACE.password).status_code == 302
    assert User.objects.filter(directory_profile__isnull=False).count() == 1, "grace only, renamed"
    renamed = User.objects.get(pk=grace.pk)
    assert renamed.username == "grace.h"
    assert renamed.is_staff
    assert renamed.is_active
    assert DirectoryProfile.objects.get(user=renamed).dn == user_dn("grace.h").lower()
    summary = sync()
    assert summary.refused_deactivations == 0
    assert User.objects.filter(username__startswith="grace").count() == 1


def test_a_rename_seen_first_by_sync(own_directory: JumpCloudDirectory) -> None:
    sync()
    grace = User.objects.get(username="grace")
    rename_user(own_directory, "grace", "grace.h")
    summary = sync()
    assert (summary.created, summary.updated, summary.deactivated) == (0, 1, 0)
    assert User.objects.get(pk=grace.pk).username == "grace.h"


def test_a_rename_follows_an_open_session(own_directory: JumpCloudDirectory, client: Client) -> None:
    from identity.revalidation import CHECKED_AT

    sign_in_as(client, GRACE)
    assert client.get("/").status_code == 200
    rename_user(own_directory, "grace", "grace.h")
    session = client.session
    session[CHECKED_AT] -= 301
    session.save()
    assert client.get("/profile/").status_code == 200, "the person is still allowed: found by stable id"
    assert User.objects.filter(username="grace.h").exists()


def test_a_second_uid_value_is_the_same_person(own_directory: JumpCloudDirectory) -> None:
    own_directory.modify(f"dn: {user_dn('grace')}\nchangetype: modify\nadd: uid\nuid: gracie\n")
    first = authenticate(username="grace", password=GRACE.password)
    second = authenticate(username="gracie", password=GRACE.password)
    assert first is not None
    assert second is not None
    assert first.pk == second.pk
    assert second.username == "grace", "the username is the uid in the entry's RDN"
    assert sync().created == len(MEMBERS) - 1


# 4. A username stored decomposed (NFD) --------------------------------------------------------


def test_a_decomposed_username_is_one_user(own_directory: JumpCloudDirectory, client: Client) -> None:
    decomposed = unicodedata.normalize("NFD", "josé")
    add_user(own_directory, decomposed, 7001, "Django App", "active")
    response = sign_in(client, "josé", f"{decomposed}-demo-pass")
    assert response.status_code == 302, response.content
    assert User.objects.get(directory_profile__directory_id="7001").username == "josé"
    summary = sync(force=True)
    assert (summary.created, summary.deactivated) == (len(MEMBERS), 0)
    assert User.objects.filter(directory_profile__directory_id="7001").count() == 1
    assert sync(force=True).updated == 0


# 5. Lockout walked around by letter case ------------------------------------------------------


def test_lockout_counts_every_spelling_of_a_name_together(client: Client, directory: JumpCloudDirectory) -> None:
    for _ in range(5):
        sign_in(client, "grace", "wrong-password")
    before = directory.log_size()
    for spelling in ("GRACE", "Grace", "gRaCe", " grace "):
        response = sign_in(client, spelling, GRACE.password)
        assert response.status_code == 429, spelling
    operations = directory.operations_since(before)
    assert operations["BIND"] == 0, "a locked name never reaches the directory, however it is spelled"


# 6. Inactive users keep their session ---------------------------------------------------------


def test_a_deactivated_user_loses_the_session_at_the_next_request(
    client: Client, directory: JumpCloudDirectory
) -> None:
    sign_in_as(client, GRACE)
    assert client.get("/profile/").status_code == 200
    User.objects.filter(username="grace").update(is_active=False)
    response = client.get("/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


def test_a_leaver_deactivated_by_sync_loses_the_session_during_an_outage(
    client: Client, own_directory: JumpCloudDirectory
) -> None:
    sign_in_as(client, LINUS)
    remove_member(own_directory, "linus", "Django App")
    sync(force=True)
    own_directory.halt()
    response = client.get("/profile/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


# 7. Values longer than the database's columns -------------------------------------------------


def test_over_long_values(own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture) -> None:
    long_uid = "u" * 200
    add_user(own_directory, long_uid, 7002, "Django App", "active")
    long_mail = "m" * 290 + "@example.com"
    own_directory.modify(
        f"dn: {user_dn('linus')}\nchangetype: modify\nreplace: mail\nmail: {long_mail}\n-\n"
        f"replace: displayName\ndisplayName: {'D' * 300}\n"
    )
    caplog.set_level(logging.WARNING)
    summary = sync(force=True)
    assert summary.created == len(MEMBERS)
    assert summary.skipped == 1
    assert any(long_uid[:40] in note and "username too long" in note for note in summary.notes)
    linus = User.objects.get(username="linus")
    assert linus.email == ""
    assert DirectoryProfile.objects.get(user=linus).display_name == "D" * 255
    assert "linus: mail left empty" in caplog.text
    assert "linus: displayName clipped from 300 to 255" in caplog.text

    user, reason = authenticate_with_reason(long_uid, f"{long_uid}-demo-pass")
    assert user is None
    assert reason == decisions.USERNAME_TOO_LONG
    signed_in = authenticate(username="linus", password=LINUS.password)
    assert signed_in is not None
    assert signed_in.email == ""


# 8. More groups than the server's size limit --------------------------------------------------


def test_more_groups_than_the_size_limit(own_directory: JumpCloudDirectory) -> None:
    records = []
    for number in range(520):
        name = f"extra group {number}"
        records.append(
            f"dn: cn={name},{USERS_DN}\nchangetype: add\nobjectClass: groupOfNames\ncn: {name}\n"
            f"member: {user_dn('ada')}\n"
        )
    own_directory.modify("\n".join(records))
    with override_settings(**ldap_settings_for(own_directory, LDAP_GROUP_SOURCE="search")):
        summary = sync()
        assert summary.created == len(MEMBERS)
        assert User.objects.get(username="ada").groups.count() == 520 + 4
        ada = authenticate(username="ada", password=BY_UID["ada"].password)
        assert ada is not None
        assert ada.groups.count() == 520 + 4


# 9. A referral in the tree --------------------------------------------------------------------


@pytest.mark.parametrize("source", ["memberof", "search"])
def test_a_referral_in_the_tree_is_skipped(own_directory: JumpCloudDirectory, source: str) -> None:
    own_directory.modify(
        f"dn: ou=Partners,{USERS_DN}\nchangetype: add\nobjectClass: referral\nobjectClass: extensibleObject\n"
        f"ou: Partners\nref: ldap://partners.example.com/ou=Partners,{USERS_DN}\n"
    )
    with override_settings(**ldap_settings_for(own_directory, LDAP_GROUP_SOURCE=source)):
        assert sync().created == len(MEMBERS)
        assert authenticate(username="linus", password=LINUS.password) is not None
        passed, report = run_doctor("--user", "linus")
        assert passed, report


# 10. ldaps:// with LDAP_START_TLS=true ---------------------------------------------------------


def test_ldaps_with_starttls_is_named(directory: JumpCloudDirectory) -> None:
    with override_settings(**ldap_settings_for(directory, LDAP_URI=directory.ldaps_uri, LDAP_START_TLS="true")):
        assert [m.id for m in check_directory_settings(None)] == ["identity.E006"]
        passed, report = run_doctor()
    assert not passed
    assert "[FAIL] TLS settings:" in report
    assert "LDAP_START_TLS=false" in report
    assert "service account" not in report, "the doctor stops before blaming the bind DN"


def test_lockout_counts_a_second_uid_value_with_the_entrys_own(own_directory: JumpCloudDirectory) -> None:
    own_directory.modify(f"dn: {user_dn('grace')}\nchangetype: modify\nadd: uid\nuid: gracie\n")
    client = Client()
    for _ in range(3):  # LDAP_MAX_FAILURES_PER_USER
        sign_in(client, "gracie", "wrong-password")
    before = own_directory.log_size()
    for spelling in ("grace", "gracie", "GRACIE"):
        assert sign_in(Client(), spelling, GRACE.password).status_code == 429, spelling
    assert own_directory.operations_since(before)["BIND"] <= 3, "at most the service account's binds"
