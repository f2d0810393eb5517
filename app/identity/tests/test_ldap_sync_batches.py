"""`ldap_sync` applies the directory in batches: the account rules hold when the entries they are
about fall in different batches, and nothing is written until the whole directory has been read.

Batches of two accounts here (``batches_of_two``), so the seed's members fall in three batches
(ada and grace, linus and ken, joan and the next) and an entry a test adds falls in a later one.
Each test first checks that its entries are in different batches, so the boundary is crossed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from devstack.testing import account_state, add_user, ldap_settings_for, remove_member, rename_user
from identity import accounts
from identity import sync as sync_module
from identity.models import DirectoryProfile, DirectorySync
from identity.sync import SyncFailed, sync
from ldap_seed import user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS

pytestmark = pytest.mark.django_db
User = get_user_model()
MEMBERS = [p for p in PERSONAS if "Django App" in p.groups]

Batches = list[list[str]]


@pytest.fixture
def batches_of_two(monkeypatch: pytest.MonkeyPatch) -> Batches:
    """ldap_sync in batches of two accounts; the usernames of each batch it applies, in order."""
    monkeypatch.setattr(sync_module, "BATCH", 2)
    applied: Batches = []
    apply: Callable[..., set[int]] = sync_module._apply

    def recording(batch: list[accounts.Account], *args: Any, **kwargs: Any) -> set[int]:
        applied.append([account.username for account in batch])
        return apply(batch, *args, **kwargs)

    monkeypatch.setattr(sync_module, "_apply", recording)
    return applied


def batch_of(applied: Batches, username: str) -> int:
    return next(number for number, usernames in enumerate(applied) if username in usernames)


def test_the_seed_is_applied_in_batches_and_a_second_run_changes_nothing(
    directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    first = sync()
    assert [len(batch) for batch in batches_of_two] == [2, 2, 1]
    assert (first.created, first.skipped) == (len(MEMBERS), 0)
    before = account_state()
    again = sync()
    assert (again.created, again.updated, again.deactivated, again.unchanged) == (0, 0, 0, len(MEMBERS))
    assert account_state() == before


def test_twins_by_stable_id_in_different_batches_are_both_skipped(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    sync()
    ada = User.objects.get(username="ada")
    add_user(own_directory, "mallory", 5001, "Django App", "active")  # ada's uidNumber
    batches_of_two.clear()
    summary = sync(force=True)
    assert batch_of(batches_of_two, "ada") < batch_of(batches_of_two, "mallory")
    assert summary.skipped == 2
    assert summary.deactivated == 0, "ada's user is left alone, not deactivated"
    ada.refresh_from_db()
    assert (ada.username, ada.is_active, ada.is_superuser) == ("ada", True, True)
    assert not User.objects.filter(username="mallory").exists()


def test_twins_by_username_in_different_batches_are_both_skipped(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    # Two entries the directory tells apart (it does not fold ß to ss) with one canonical username.
    add_user(own_directory, "straße", 7200, "Django App", "active")
    add_user(own_directory, "strasse", 7201, "Django App", "active")
    summary = sync()
    assert [number for number, usernames in enumerate(batches_of_two) if "strasse" in usernames] == [2, 3]
    assert summary.skipped == 2
    assert sum(note.endswith(sync_module.USERNAME_SHARED) for note in summary.notes) == 2
    assert not User.objects.filter(username="strasse").exists()


def test_a_swap_of_usernames_across_batches_is_resolved_by_one_sync(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    """grace's entry (first batch) takes the name linus's user holds; linus's entry (second batch)
    takes the name grace's user held: each holder is moved aside in the batch of the other entry."""
    sync()
    grace_pk = User.objects.get(username="grace").pk
    linus_pk = User.objects.get(username="linus").pk
    rename_user(own_directory, "grace", "swap-in-progress")
    rename_user(own_directory, "linus", "grace")
    rename_user(own_directory, "swap-in-progress", "linus")
    batches_of_two.clear()
    summary = sync()
    assert batch_of(batches_of_two, "linus") < batch_of(batches_of_two, "grace")
    assert (summary.skipped, summary.deactivated, summary.refused_deactivations) == (0, 0, 0)
    assert User.objects.get(pk=grace_pk).username == "linus"
    assert User.objects.get(pk=linus_pk).username == "grace"
    assert sync().updated == 0


def test_a_reused_username_moves_the_old_holder_aside_and_deactivates_it(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    sync()
    old_grace = User.objects.get(username="grace")
    own_directory.modify(f"dn: {user_dn('grace')}\nchangetype: delete\n")
    add_user(own_directory, "grace", 7100, "Django App", "active")
    batches_of_two.clear()
    summary = sync(force=True)
    assert batch_of(batches_of_two, "grace") > batch_of(batches_of_two, "ada")
    assert (summary.created, summary.deactivated) == (1, 1)
    old_grace.refresh_from_db()
    assert old_grace.username == f"~{old_grace.pk}~grace"
    assert not old_grace.is_active
    assert User.objects.get(username="grace").directory_profile.directory_id == "7100"


def test_a_rename_onto_a_local_account_is_skipped_and_kept_whatever_the_batch(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    sync()
    User.objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    rename_user(own_directory, "grace", "breakglass")
    summary = sync(force=True)
    assert (summary.skipped, summary.deactivated) == (1, 0)
    grace = User.objects.get(directory_profile__directory_id="5002")
    assert (grace.username, grace.is_active) == ("grace", True)
    assert User.objects.get(username="breakglass").is_superuser


def test_an_unkeyed_profile_is_adopted_once_across_batches(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    """A row from before stable ids with grace's DN and linus's username: grace's entry (first
    batch) adopts it by DN; linus's entry (second batch) may not adopt it again by username."""
    legacy = User.objects.create_user("linus")
    DirectoryProfile.objects.create(user=legacy, dn=user_dn("grace").lower(), synced_at=timezone.now())
    summary = sync()
    assert batch_of(batches_of_two, "grace") < batch_of(batches_of_two, "linus")
    assert (summary.created, summary.updated, summary.skipped) == (len(MEMBERS) - 1, 1, 0)
    legacy.refresh_from_db()
    assert legacy.username == "grace"
    assert legacy.directory_profile.directory_id == "5002"
    linus = User.objects.get(username="linus")
    assert linus.pk != legacy.pk
    assert linus.directory_profile.directory_id == "5003"


def test_changing_the_stable_id_attribute_adopts_everybody_across_batches(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    sync()
    before = dict(User.objects.values_list("username", "pk"))
    with override_settings(**ldap_settings_for(own_directory, LDAP_USER_ID_ATTRIBUTE="entryUUID")):
        batches_of_two.clear()
        summary = sync()
    assert len(batches_of_two) == 3
    assert (summary.created, summary.skipped, summary.deactivated, summary.refused_deactivations) == (0, 0, 0, 0)
    assert summary.updated == len(MEMBERS)
    assert dict(User.objects.values_list("username", "pk")) == before
    assert set(DirectoryProfile.objects.values_list("directory_id_attribute", flat=True)) == {"entryUUID"}


def test_the_deactivation_guard_counts_the_leavers_of_every_batch(
    own_directory: JumpCloudDirectory, batches_of_two: Batches
) -> None:
    sync()
    remove_member(own_directory, "linus", "Django App")
    summary = sync()
    assert (summary.deactivated, summary.refused_deactivations) == (0, 1)
    assert DirectorySync.objects.latest().refused_deactivations == 1
    assert sync(force=True).deactivated == 1
    assert User.objects.filter(is_active=False, directory_profile__isnull=False).count() == 1 + sum(
        1 for p in MEMBERS if "active" not in p.groups
    )


def test_a_directory_lost_after_the_first_page_changes_nothing(
    own_directory: JumpCloudDirectory, batches_of_two: Batches, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page (the service account, ada and grace) fills a batch, spooled before the
    directory goes; grace's rename in it is not written, nor anything else."""
    sync()
    rename_user(own_directory, "grace", "grace.h")
    remove_member(own_directory, "linus", "Django App")
    add_user(own_directory, "newcomer", 7300, "Django App", "active")
    before = account_state()
    runs = DirectorySync.objects.count()
    monkeypatch.setattr(sync_module, "PAGE_SIZE", 3)
    pages = []

    def lose_directory_after_first_page(count: int) -> None:
        pages.append(count)
        if len(pages) == 1:
            own_directory.halt()

    batches_of_two.clear()
    with pytest.raises(SyncFailed, match="nothing was changed"):
        sync(force=True, progress=lose_directory_after_first_page)
    # The second page may have been on its way before the directory went (ldap_client.paged_search).
    assert pages[0] == 3
    assert sum(pages) < len(PERSONAS) + 2, "the read stopped short"
    assert batches_of_two == [], "no batch is applied before the whole directory is read"
    assert account_state() == before
    assert DirectorySync.objects.count() == runs
