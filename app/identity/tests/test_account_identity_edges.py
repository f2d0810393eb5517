"""Who a person is, at the edges: two entries with one stable id, usernames that move between
people (a swap, a rename onto a local account's name, a reused name), a change of
LDAP_USER_ID_ATTRIBUTE, rows from before stable ids, characters no database column keeps."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from devstack.testing import (
    add_user,
    authenticate_with_reason,
    ldap_settings_for,
    remove_member,
    rename_user,
    run_doctor,
    sign_in,
    sign_in_as,
)
from identity import accounts, decisions, revalidation
from identity.models import DirectoryProfile
from identity.sync import sync
from ldap_seed import SERVICE_DN, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, PERSONAS

pytestmark = pytest.mark.django_db
User = get_user_model()
ADA, GRACE, LINUS = BY_UID["ada"], BY_UID["grace"], BY_UID["linus"]
MEMBERS = [p for p in PERSONAS if "Django App" in p.groups]


def test_two_entries_with_one_stable_id_share_nothing(own_directory: JumpCloudDirectory, client: Client) -> None:
    sign_in_as(client, ADA)
    ada = User.objects.get(username="ada")
    add_user(own_directory, "mallory", 5001, "Django App", "active")  # ada's uidNumber
    user, reason = authenticate_with_reason("mallory", "mallory-demo-pass")
    assert user is None
    assert reason == accounts.STABLE_ID_SHARED
    ada.refresh_from_db()
    assert (ada.username, ada.is_superuser, ada.is_active) == ("ada", True, True)
    summary = sync()
    assert summary.skipped == 2
    assert summary.deactivated == 0
    ada.refresh_from_db()
    assert (ada.username, ada.is_superuser, ada.is_active) == ("ada", True, True)
    assert not User.objects.filter(username="mallory").exists()
    assert f"would be refused: {accounts.STABLE_ID_SHARED}" in run_doctor("--user", "mallory")[1]


def test_a_twin_outside_the_app_group_does_not_deactivate_the_other_persons_user(
    own_directory: JumpCloudDirectory, client: Client
) -> None:
    sign_in_as(client, ADA)
    add_user(own_directory, "mallory", 5001, "active")  # ada's uidNumber, not in the app group
    user, reason = authenticate_with_reason("mallory", "mallory-demo-pass")
    assert user is None
    assert reason == decisions.NOT_IN_APP_GROUP
    assert User.objects.get(username="ada").is_active, "mallory's refusal deactivated ada's Django user"
    assert client.get("/profile/").status_code == 200


def test_a_member_who_left_and_was_renamed_at_once_is_still_deactivated(
    own_directory: JumpCloudDirectory, client: Client
) -> None:
    sign_in_as(client, LINUS)
    linus = User.objects.get(username="linus")
    remove_member(own_directory, "linus", "Django App")
    rename_user(own_directory, "linus", "linus.t")
    user, reason = authenticate_with_reason("linus.t", LINUS.password)
    assert (user, reason) == (None, decisions.NOT_IN_APP_GROUP)
    linus.refresh_from_db()
    assert not linus.is_active


def test_the_holder_of_a_shared_id_is_treated_alike_by_sign_in_session_check_and_sync(
    own_directory: JumpCloudDirectory, client: Client
) -> None:
    # The entry the Django user was last seen as keeps it; the other is refused; sync skips both.
    sign_in_as(client, ADA)
    ada = User.objects.get(username="ada")
    add_user(own_directory, "mallory", 5001, "Django App", "active")  # ada's uidNumber
    assert revalidation.directory_verdict(ada) == (True, "")
    user, reason = authenticate_with_reason("ada", ADA.password)
    assert (user, reason) == (ada, "")
    assert authenticate_with_reason("mallory", "mallory-demo-pass") == (None, accounts.STABLE_ID_SHARED)
    passed, report = run_doctor("--user", "ada")
    assert passed, report
    assert "would be allowed to sign in as ada" in report
    assert "another entry has uidNumber=5001" in report
    assert f"would be refused: {accounts.STABLE_ID_SHARED}" in run_doctor("--user", "mallory")[1]
    assert sync().skipped == 2
    ada.refresh_from_db()
    assert (ada.username, ada.is_active) == ("ada", True)


@pytest.mark.parametrize("spelling", ["grace", "gracie"])
def test_a_success_through_any_uid_value_resets_the_failures(own_directory: JumpCloudDirectory, spelling: str) -> None:
    own_directory.modify(f"dn: {user_dn('grace')}\nchangetype: modify\nadd: uid\nuid: gracie\n")
    for _ in range(2):
        sign_in(Client(), "grace", "a-wrong-guess")
    assert sign_in(Client(), spelling, GRACE.password).status_code == 302
    sign_in(Client(), "grace", "a-wrong-guess")
    assert sign_in(Client(), "grace", GRACE.password).status_code == 302, "the two failures before were reset"


def test_while_two_live_entries_hold_an_id_nobody_takes_its_user_even_after_the_holder_is_renamed(
    own_directory: JumpCloudDirectory, client: Client
) -> None:
    # The holder renamed: no entry is at the DN last seen any more. The twin must not take the
    # user (it took ada's superuser), and sign-in agrees with ldap_sync, which skips both.
    sign_in_as(client, ADA)
    ada = User.objects.get(username="ada")
    add_user(own_directory, "mallory", 5001, "Django App", "active")  # ada's uidNumber
    assert authenticate_with_reason("mallory", "mallory-demo-pass") == (None, accounts.STABLE_ID_SHARED)
    rename_user(own_directory, "ada", "ada.l")
    assert authenticate_with_reason("mallory", "mallory-demo-pass") == (None, accounts.STABLE_ID_SHARED)
    assert authenticate_with_reason("ada.l", ADA.password) == (None, accounts.STABLE_ID_SHARED)
    assert sync(force=True).skipped == 2
    ada.refresh_from_db()
    assert (ada.username, ada.is_superuser, ada.is_active) == ("ada", True, True)


def test_a_second_uid_value_of_the_service_account_is_never_tried(own_directory: JumpCloudDirectory) -> None:
    own_directory.modify(f"dn: {SERVICE_DN}\nchangetype: modify\nadd: uid\nuid: svc-alias\n")
    before = own_directory.log_size()
    assert authenticate_with_reason("svc-alias", "a-wrong-guess") == (None, decisions.SERVICE_ACCOUNT)
    assert own_directory.operations_since(before)["BIND"] == 1  # the service connection's own, no guess


def test_a_nul_character_is_removed_not_fatal(
    own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    own_directory.modify(f"dn: {user_dn('linus')}\nchangetype: modify\nreplace: description\ndescription:: YQBi\n")
    caplog.set_level(logging.WARNING)
    assert sync().created == len(MEMBERS)
    assert DirectoryProfile.objects.get(user__username="linus").description == "ab"
    assert "linus: description held NUL characters, removed" in caplog.text
    assert authenticate(username="linus", password=LINUS.password) is not None


def test_a_rename_onto_a_local_accounts_name_is_refused_and_kept(own_directory: JumpCloudDirectory) -> None:
    sync()
    User.objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    rename_user(own_directory, "grace", "breakglass")
    user, reason = authenticate_with_reason("breakglass", GRACE.password)
    assert user is None
    assert reason == accounts.USERNAME_TAKEN
    assert f"would be refused: {accounts.USERNAME_TAKEN}" in run_doctor("--user", "breakglass")[1]
    summary = sync(force=True)
    assert (summary.skipped, summary.deactivated) == (1, 0)
    grace = User.objects.get(directory_profile__directory_id="5002")
    assert (grace.username, grace.is_active) == ("grace", True), "skipped is not gone: left as it was"
    breakglass = User.objects.get(username="breakglass")
    assert breakglass.has_usable_password()
    assert breakglass.is_superuser


def swap_usernames(directory: JumpCloudDirectory, first: str, second: str) -> None:
    rename_user(directory, first, "swap-in-progress")
    rename_user(directory, second, first)
    rename_user(directory, "swap-in-progress", second)


def test_a_swap_of_usernames_is_resolved_by_one_sync(own_directory: JumpCloudDirectory) -> None:
    sync()
    grace_pk = User.objects.get(username="grace").pk
    linus_pk = User.objects.get(username="linus").pk
    swap_usernames(own_directory, "grace", "linus")
    summary = sync()
    assert (summary.skipped, summary.deactivated, summary.refused_deactivations) == (0, 0, 0)
    assert User.objects.get(pk=grace_pk).username == "linus"
    assert User.objects.get(pk=linus_pk).username == "grace"
    assert sync().updated == 0


def test_a_swap_of_usernames_is_resolved_by_signing_in(own_directory: JumpCloudDirectory) -> None:
    sync()
    grace_pk = User.objects.get(username="grace").pk
    linus_pk = User.objects.get(username="linus").pk
    swap_usernames(own_directory, "grace", "linus")
    first = authenticate(username="linus", password=GRACE.password)  # grace's entry, now called linus
    assert first is not None
    assert (first.pk, first.username) == (grace_pk, "linus")
    assert User.objects.get(pk=linus_pk).username.startswith("~"), "moved aside until their own next sign-in"
    second = authenticate(username="grace", password=LINUS.password)
    assert second is not None
    assert (second.pk, second.username) == (linus_pk, "grace")


def test_a_reused_username_is_a_new_person(own_directory: JumpCloudDirectory) -> None:
    sync()
    old_grace = User.objects.get(username="grace")
    own_directory.modify(f"dn: {user_dn('grace')}\nchangetype: delete\n")
    add_user(own_directory, "grace", 7100, "Django App", "active")
    new_grace = authenticate(username="grace", password="grace-demo-pass")
    assert new_grace is not None
    assert new_grace.pk != old_grace.pk
    assert not new_grace.is_staff, "none of the leaver's rights"
    old_grace.refresh_from_db()
    assert old_grace.username.startswith("~")
    summary = sync(force=True)
    assert summary.deactivated == 1
    old_grace.refresh_from_db()
    assert not old_grace.is_active


def test_changing_the_stable_id_attribute_adopts_everybody(own_directory: JumpCloudDirectory) -> None:
    sync()
    before = dict(User.objects.values_list("username", "pk"))
    with override_settings(**ldap_settings_for(own_directory, LDAP_USER_ID_ATTRIBUTE="entryUUID")):
        assert authenticate(username="grace", password=GRACE.password) is not None
        summary = sync()
        assert (summary.created, summary.skipped, summary.deactivated, summary.refused_deactivations) == (0, 0, 0, 0)
    assert dict(User.objects.values_list("username", "pk")) == before
    profile = DirectoryProfile.objects.get(user__username="grace")
    assert profile.directory_id_attribute == "entryUUID"
    assert len(profile.directory_id or "") == 36


def test_a_user_from_before_stable_ids_is_adopted_by_dn(own_directory: JumpCloudDirectory) -> None:
    add_user(own_directory, "Straße", 7200, "Django App", "active")
    # as the previous release stored it: lower-cased, no stable id
    legacy = User.objects.create_user("straße")
    DirectoryProfile.objects.create(user=legacy, dn=f"uid=straße,{user_dn('x')[6:]}".lower(), synced_at=timezone.now())
    signed_in = authenticate(username="straße", password="Straße-demo-pass")
    assert signed_in is not None
    assert (signed_in.pk, signed_in.username) == (legacy.pk, "strasse")
    assert User.objects.filter(directory_profile__isnull=False).count() == 1


def test_a_user_from_before_stable_ids_is_adopted_by_dn_before_another_by_username(
    directory: JumpCloudDirectory,
) -> None:
    # Two rows from before stable ids: an older one holds grace's name (at a DN she left), a newer
    # one her DN under another name. Her DN decides: the row at her DN is hers; the name moves aside.
    by_her_name = User.objects.create_user(GRACE.uid)
    DirectoryProfile.objects.create(user=by_her_name, dn=user_dn("grace-old").lower(), synced_at=timezone.now())
    at_her_dn = User.objects.create_user("grace-before-a-rename")
    DirectoryProfile.objects.create(user=at_her_dn, dn=user_dn(GRACE.uid).lower(), synced_at=timezone.now())
    signed_in = authenticate(username=GRACE.uid, password=GRACE.password)
    assert signed_in is not None
    assert (signed_in.pk, signed_in.username) == (at_her_dn.pk, GRACE.uid)
    by_her_name.refresh_from_db()
    assert by_her_name.username.startswith("~")


def test_a_group_setting_with_spaces_around_it(directory: JumpCloudDirectory) -> None:
    with override_settings(**ldap_settings_for(directory, LDAP_STAFF_GROUP=" staff ")):
        grace = authenticate(username="grace", password=GRACE.password)
        assert grace is not None
        assert grace.is_staff


def test_signing_in_through_the_form_after_a_swap(own_directory: JumpCloudDirectory, client: Client) -> None:
    sign_in_as(client, GRACE)
    swap_usernames(own_directory, "grace", "linus")
    assert sign_in(Client(), "linus", GRACE.password).status_code == 302
