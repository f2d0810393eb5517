"""`manage.py ldap_sync`: the same result as signing everyone in, idempotent, and careful to deactivate."""

from __future__ import annotations

import errno
import io
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from devstack.testing import account_state, ldap_settings_for, remove_member
from identity import sync as sync_module
from identity.models import DirectoryProfile, DirectorySync
from identity.sync import SyncFailed, sync
from ldap_seed import user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS

pytestmark = pytest.mark.django_db
User = get_user_model()
MEMBERS = [p for p in PERSONAS if "Django App" in p.groups]


def test_sync_gives_what_signing_everyone_in_gives(directory: JumpCloudDirectory) -> None:
    for persona in PERSONAS:
        authenticate(username=persona.uid, password=persona.password)
    signed_in = account_state()
    User.objects.all().delete()
    summary = sync()
    assert summary.created == len(MEMBERS)
    # A sync reads entries and groups; a locked account keeps both in JumpCloud's LDAP (only its
    # bind fails), so the sync has it where a sign-in could not make it.
    synced = account_state()
    assert synced.keys() - signed_in.keys() == {p.uid for p in MEMBERS if p.state != "enabled"}
    assert {uid: synced[uid] for uid in signed_in} == signed_in
    assert not User.objects.filter(username="eve").exists()


def test_second_run_changes_nothing(directory: JumpCloudDirectory) -> None:
    sync()
    before = account_state()
    summary = sync()
    assert (summary.created, summary.updated, summary.deactivated, summary.unchanged) == (0, 0, 0, len(MEMBERS))
    assert account_state() == before


def test_changes_in_the_directory_are_applied(own_directory: JumpCloudDirectory) -> None:
    sync()
    own_directory.modify(
        f"dn: {user_dn('linus')}\nchangetype: modify\nreplace: title\ntitle: Lead\n-\ndelete: mobile\n"
    )
    remove_member(own_directory, "grace", "staff")
    summary = sync()
    assert (summary.updated, summary.unchanged) == (2, len(MEMBERS) - 2)
    linus = DirectoryProfile.objects.get(user__username="linus")
    assert (linus.title, linus.phone) == ("Lead", "")
    grace = User.objects.get(username="grace")
    assert grace.is_staff is False
    assert "staff" not in set(grace.groups.values_list("name", flat=True))


def test_a_group_left_by_several_users_is_one_delete(own_directory: JumpCloudDirectory) -> None:
    sync()
    remove_member(own_directory, "ada", "active")
    remove_member(own_directory, "grace", "active")
    with CaptureQueriesContext(connection) as queries:
        summary = sync()
    assert summary.updated == 2
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1, deletes
    assert set(User.objects.filter(groups__name="active").values_list("username", flat=True)) == {"linus", "joan"}


def test_leaver_deactivation_is_refused_above_the_share_unless_forced(own_directory: JumpCloudDirectory) -> None:
    sync()
    remove_member(own_directory, "linus", "Django App")
    summary = sync()  # 1 of 4 directory users is 25%, over the default 10%
    assert summary.deactivated == 0
    assert summary.refused_deactivations == 1
    assert User.objects.get(username="linus").is_active
    assert sync(force=True).deactivated == 1
    assert User.objects.get(username="linus").is_active is False


def test_leaver_within_the_share_is_deactivated(own_directory: JumpCloudDirectory) -> None:
    sync()
    own_directory.modify(f"dn: {user_dn('linus')}\nchangetype: delete\n")
    summary = sync(max_share=0.5)
    assert summary.deactivated == 1
    assert User.objects.get(username="linus").is_active is False


def test_local_accounts_are_never_touched(own_directory: JumpCloudDirectory) -> None:
    User.objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    sync(force=True)
    breakglass = User.objects.get(username="breakglass")
    assert (breakglass.is_active, breakglass.is_superuser) == (True, True)


def test_unreachable_directory_changes_nothing(own_directory: JumpCloudDirectory) -> None:
    sync()
    before = account_state()
    own_directory.halt()
    with pytest.raises(SyncFailed, match="nothing was changed"):
        sync(force=True)
    assert account_state() == before


def test_directory_lost_between_pages_changes_nothing(
    own_directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "PAGE_SIZE", 2)
    pages = []

    def lose_directory_after_first_page(count: int) -> None:
        pages.append(count)
        if len(pages) == 1:
            own_directory.halt()

    with pytest.raises(SyncFailed):
        sync(progress=lose_directory_after_first_page)
    # The second page may have been on its way before the directory went (ldap_client.paged_search).
    assert pages[0] == 2
    assert sum(pages) < len(PERSONAS) + 1, "the read stopped short"
    assert not User.objects.exists()


def test_a_full_temporary_disk_is_a_clear_failure_that_changes_nothing(
    directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(spool: object, batch: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sync_module, "_write_batch", disk_full)
    with pytest.raises(
        CommandError, match=r"cannot hold .* \(No space left on device\): free space there, or set TMPDIR"
    ):
        call_command("ldap_sync", stdout=io.StringIO())
    assert not User.objects.exists()


def test_a_temporary_folder_that_is_gone_is_a_clear_failure(
    directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(SyncFailed, match=r"gone cannot hold .* nothing was changed"):
        sync()
    assert not User.objects.exists()


def test_dry_run_writes_nothing(directory: JumpCloudDirectory) -> None:
    summary = sync(dry_run=True)
    assert summary.created == len(MEMBERS)
    assert not User.objects.exists()
    assert not DirectorySync.objects.exists()


def test_command_prints_the_summary_and_records_it(directory: JumpCloudDirectory) -> None:
    output = io.StringIO()
    call_command("ldap_sync", stdout=output)
    assert (
        output.getvalue().strip()
        == f"created {len(MEMBERS)}, updated 0, deactivated 0, unchanged 0 ({len(PERSONAS) + 1} directory users read)"
    )
    assert DirectorySync.objects.latest().created == len(MEMBERS)


def test_command_fails_when_deactivations_are_refused(own_directory: JumpCloudDirectory) -> None:
    call_command("ldap_sync", stdout=io.StringIO())
    remove_member(own_directory, "linus", "Django App")
    errors = io.StringIO()
    with pytest.raises(CommandError, match="deactivations refused"):
        call_command("ldap_sync", stdout=io.StringIO(), stderr=errors)
    assert f"refused to deactivate 1 of {len(MEMBERS)} directory users ({100 // len(MEMBERS)}%" in errors.getvalue()


def test_the_group_search_fallback_syncs_the_same(directory: JumpCloudDirectory) -> None:
    sync()
    by_memberof = account_state()
    User.objects.all().delete()
    with override_settings(**ldap_settings_for(directory, LDAP_GROUP_SOURCE="search")):
        sync()
    assert account_state() == by_memberof
