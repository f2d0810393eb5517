"""``manage.py ldap_sync``: Django's directory users brought in line with the directory, in bulk.

One paged search reads every user under the base DN (memberOf included; with
``LDAP_GROUP_SOURCE=search``, one paged search of the groups too). Each entry goes through
``identity.accounts.decide``, the decision the sign-in makes, so a sync and a sign-in leave the
same Django state. Members of the app group are created or refreshed (found by their stable id, so
a rename in JumpCloud renames the Django user); directory users (those with a ``DirectoryProfile``)
that are gone from the directory or from the app group are deactivated. Local accounts are never
touched. Only rows that changed are written, in bulk.

Safety: an LDAP error at any point, a search cut short included, stops the sync before anything is
written. Deactivating more than ``LDAP_SYNC_MAX_DEACTIVATE_PERCENT`` of the directory users is refused
(the rest is applied) unless forced: a wrong filter or a broken group binding in JumpCloud must not
lock everybody out. An entry that cannot be an account (a username too long for Django, no stable
id, a username held by another account) is skipped with a note; the others go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from identity import accounts, dn, ldap_client
from identity.attributes import PROFILE_FIELDS, USER_FIELDS
from identity.directory_settings import SEARCH, USER_OBJECT_FILTER, current
from identity.models import DirectoryProfile, DirectorySync

PAGE_SIZE = ldap_client.PAGE_SIZE
BATCH = 1000


class SyncFailed(Exception):
    """The directory could not be read completely; nothing was changed."""


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused_deactivations: int = 0
    seen: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"created {self.created}, updated {self.updated}, deactivated {self.deactivated}, "
            f"unchanged {self.unchanged} ({self.seen} directory users read)"
        )
        if self.skipped:
            text += f", skipped {self.skipped}"
        return f"{text} [dry run: nothing written]" if self.dry_run else text


def read_directory(progress: Callable[[int], None] = lambda n: None) -> Iterator[accounts.DirectoryEntry]:
    """Every user entry under the base DN, through RFC 2696 paged results, with its groups.
    Raises ``ldap.LDAPError``."""
    directory = current()
    connection = ldap_client.service_connection(directory)
    try:
        memberships = (
            ldap_client.all_group_memberships(connection, directory) if directory.group_source == SEARCH else None
        )
        page: list[accounts.DirectoryEntry] = []
        for entry_dn, attrs in ldap_client.paged_search(
            connection,
            directory.base_dn,
            ldap.SCOPE_SUBTREE,
            USER_OBJECT_FILTER,
            directory.user_attributes,
            page_size=PAGE_SIZE,
        ):
            groups = None if memberships is None else memberships.get(dn.dn_key(entry_dn), [])
            page.append(accounts.DirectoryEntry.from_ldap(entry_dn, attrs, groups))
            if len(page) == PAGE_SIZE:
                progress(len(page))
                yield from page
                page = []
        progress(len(page))
        yield from page
    finally:
        connection.unbind_s()


def sync(
    *,
    dry_run: bool = False,
    force: bool = False,
    max_share: float | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Read the whole directory, then write the differences in one transaction. Raises
    ``SyncFailed`` (nothing written) when the directory cannot be read completely."""
    max_share = settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT / 100 if max_share is None else max_share
    directory = current()
    summary = Summary(dry_run=dry_run)
    members: list[accounts.Account] = []
    skipped: list[accounts.Account] = []
    try:
        for entry in read_directory(progress):
            summary.seen += 1
            account = accounts.decide(entry, directory)
            accounts.log_warnings(account)
            if account.refusal:
                _skip(account, account.refusal, summary, skipped)
            elif account.is_member:
                members.append(account)
    except ldap.LDAPError as error:
        raise SyncFailed(
            f"the directory could not be read completely ({type(error).__name__}); nothing was changed"
        ) from error
    wanted: dict[str, accounts.Account] = {}
    shared_ids = {i for i, n in Counter(a.directory_id for a in members).items() if n > 1}
    shared_names = {u for u, n in Counter(a.username for a in members).items() if n > 1}
    for account in members:
        if account.directory_id in shared_ids:
            _skip(account, accounts.STABLE_ID_SHARED, summary, skipped)
        elif account.username in shared_names:
            _skip(account, "username shared by another directory entry", summary, skipped)
        else:
            wanted[account.directory_id] = account
    with transaction.atomic():
        _apply(wanted, skipped, summary, force=force, max_share=max_share)
        if dry_run:
            transaction.set_rollback(True)
        else:
            DirectorySync.objects.create(
                **{
                    k: getattr(summary, k)
                    # issue 12 hook: refused_deactivations, so the status page shows a refused run
                    for k in ("created", "updated", "deactivated", "unchanged", "seen", "refused_deactivations")
                }
            )
    return summary


def _skip(account: accounts.Account, reason: str, summary: Summary, skipped: list[accounts.Account]) -> None:
    """An entry that cannot be applied: noted, and its Django user (if any) left as it is."""
    summary.skipped += 1
    summary.notes.append(f"skipped {account.dn}: {reason}")
    skipped.append(account)


def _apply(
    wanted: dict[str, accounts.Account],
    skipped: list[accounts.Account],
    summary: Summary,
    *,
    force: bool,
    max_share: float,
) -> None:
    """The rules of ``accounts.save``, in bulk: find each person by stable id (or adopt an unkeyed
    directory user by DN, then username), move aside directory users holding a username that now
    belongs to someone else, refuse a username held by a local account, write only what changed."""
    now = timezone.now()
    attribute = current().user_id_attribute
    profiles = list(DirectoryProfile.objects.select_related("user"))
    by_id = {p.directory_id: p for p in profiles if p.directory_id_attribute == attribute and p.directory_id}
    unkeyed = [p for p in profiles if p.directory_id_attribute != attribute]
    unkeyed_by_dn = {p.dn: p for p in unkeyed}
    unkeyed_by_username = {p.user.username: p for p in unkeyed}
    profile_of = {p.user_id: p for p in profiles}
    directory_pks = set(profile_of)
    owner_of_username = dict(User.objects.values_list("username", "pk"))

    protected: set[int] = set()  # users of skipped entries: left as they are, never deactivated here
    for account in skipped:
        profile = by_id.get(account.directory_id) or unkeyed_by_username.get(account.username)
        if profile is not None:
            protected.add(profile.user_id)

    users: dict[str, User] = {}
    adopted: set[int] = set()
    for directory_id, account in wanted.items():
        profile = by_id.get(directory_id)
        if profile is None:
            for candidate in (unkeyed_by_dn.get(account.dn), unkeyed_by_username.get(account.username)):
                if candidate is not None and candidate.user_id not in adopted:
                    profile = candidate
                    adopted.add(candidate.user_id)
                    break
        if profile is not None:
            users[directory_id] = profile.user

    parked: list[int] = []
    for directory_id, account in list(wanted.items()):
        user = users.get(directory_id)
        holder = owner_of_username.get(account.username)
        if holder is None or (user is not None and holder == user.pk):
            continue
        if holder not in directory_pks:
            if user is not None:
                protected.add(user.pk)
            _skip(account, f"{accounts.USERNAME_TAKEN} ({account.username})", summary, skipped)
            del wanted[directory_id]
            users.pop(directory_id, None)
            continue
        parked.append(holder)
    for start in range(0, len(parked), BATCH):
        for moved in User.objects.filter(pk__in=parked[start : start + BATCH]):
            User.objects.filter(pk=moved.pk).update(username=accounts.parked_username(moved))

    new_users = [
        User(password=make_password(None), **account.user_row())
        for directory_id, account in wanted.items()
        if directory_id not in users
    ]
    User.objects.bulk_create(new_users, batch_size=BATCH)
    summary.created = len(new_users)
    if new_users and new_users[0].pk is None:  # backends without RETURNING: read the keys back
        names = [u.username for u in new_users]
        keys = {}
        for start in range(0, len(names), BATCH):
            keys.update(User.objects.filter(username__in=names[start : start + BATCH]).values_list("username", "pk"))
        for user in new_users:
            user.pk = keys[user.username]
    created = {user.username: user for user in new_users}

    changed_users, new_profiles, changed_profiles, touched = [], [], [], set()
    for directory_id, account in wanted.items():
        user = users.get(directory_id)
        if user is None:
            user = users[directory_id] = created[account.username]
            new_profiles.append(DirectoryProfile(user=user, synced_at=now, **account.profile_row()))
            continue
        if accounts.changed_fields(user, account.user_row()):
            changed_users.append(user)
            touched.add(user.pk)
        profile = profile_of[user.pk]
        if accounts.changed_fields(profile, account.profile_row()):
            profile.synced_at = now
            changed_profiles.append(profile)
            touched.add(user.pk)
    User.objects.bulk_update(changed_users, ["username", *accounts.FLAGS, *USER_FIELDS], batch_size=BATCH)
    DirectoryProfile.objects.bulk_create(new_profiles, batch_size=BATCH)
    DirectoryProfile.objects.bulk_update(
        changed_profiles,
        ["dn", "directory_id", "directory_id_attribute", "synced_at", *PROFILE_FIELDS],
        batch_size=BATCH,
    )
    touched |= accounts.mirror_groups({users[i].pk: a.groups for i, a in wanted.items()})
    summary.updated = len(touched - {u.pk for u in new_users})
    summary.unchanged = len(wanted) - summary.created - summary.updated
    kept = {u.pk for u in users.values()} | protected
    _deactivate_leavers(kept, summary, force=force, max_share=max_share)


def _deactivate_leavers(kept: set[Any], summary: Summary, *, force: bool, max_share: float) -> None:
    directory_users = list(User.objects.filter(directory_profile__isnull=False).values_list("pk", "is_active"))
    leavers = [pk for pk, active in directory_users if active and pk not in kept]
    count, total = len(leavers), len(directory_users)
    if count and not force and count > max_share * total:
        summary.refused_deactivations = count
        summary.notes.append(
            f"refused to deactivate {count} of {total} directory users ({count / total:.0%}, more than the "
            f"{max_share:.0%} allowed by LDAP_SYNC_MAX_DEACTIVATE_PERCENT); check the directory, then run with --force"
        )
        return
    for start in range(0, count, BATCH):
        summary.deactivated += User.objects.filter(pk__in=leavers[start : start + BATCH]).update(is_active=False)
