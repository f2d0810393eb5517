"""``manage.py ldap_sync``: Django's directory users brought in line with the directory, in bulk.

One paged search reads every user under the base DN (memberOf included; with
``LDAP_GROUP_SOURCE=search``, one paged search of the groups too), a page at a time. Each entry goes through
``identity.accounts.decide``, the decision the sign-in makes, so a sync and a sign-in leave the
same Django state. Members of the app group are created or refreshed (found by their stable id, so
a rename in JumpCloud renames the Django user); directory users (those with a ``DirectoryProfile``)
that are gone from the directory or from the app group are deactivated. Local accounts are never
touched. Only rows that changed are written, in bulk, a batch of ``BATCH`` users at a time.

Safety: an LDAP error at any point, a search cut short included, stops the sync before anything is
written. Deactivating more than ``LDAP_SYNC_MAX_DEACTIVATE_PERCENT`` of the directory users is refused
(the rest is applied) unless forced: a wrong filter or a broken group binding in JumpCloud must not
lock everybody out. An entry that cannot be an account (a username too long for Django, no stable
id, a username held by another account) is skipped with a note; the others go on.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ldap
from django.conf import settings
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
    ``SyncFailed`` (nothing written) when the directory cannot be read completely.

    Memory stays flat as the directory grows: the accounts decided while reading go to a
    temporary file in batches of ``BATCH``, and are applied batch by batch; only the stable ids
    seen and the keys of the users kept are held for the whole run (tens of bytes a user)."""
    max_share = settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT / 100 if max_share is None else max_share
    summary = Summary(dry_run=dry_run)
    with tempfile.TemporaryFile(prefix="ldap_sync-") as spool:
        _read_into(spool, summary, progress)
        spool.seek(0)
        with transaction.atomic():
            legacy = {row["user__username"]: row for row in _stored_rows(directory_id=None)}
            kept: set[Any] = set()
            for batch in _batches(spool):
                kept |= _apply(batch, legacy, summary)
            _deactivate_leavers(kept, summary, force=force, max_share=max_share)
            if dry_run:
                transaction.set_rollback(True)
            else:
                DirectorySync.objects.create(
                    **{k: getattr(summary, k) for k in ("created", "updated", "deactivated", "unchanged", "seen")}
                )
    return summary


def _read_into(spool: IO[bytes], summary: Summary, progress: Callable[[int], None]) -> None:
    """Every member of the app group, decided, pickled into ``spool`` in lists of at most ``BATCH``
    accounts. Entries that cannot be accounts are counted and noted in ``summary``."""
    directory = current()
    seen_ids: set[str] = set()
    batch: list[accounts.Account] = []
    try:
        for entry in read_directory(progress):
            summary.seen += 1
            account = accounts.decide(entry, directory)
            accounts.log_warnings(account)
            if account.refusal:
                summary.skipped += 1
                summary.notes.append(f"skipped {entry.dn}: {account.refusal}")
            elif account.is_member:
                if account.directory_id in seen_ids:
                    summary.skipped += 1
                    summary.notes.append(f"skipped {entry.dn}: its stable id is another entry's too")
                    continue
                seen_ids.add(account.directory_id)
                batch.append(account)
                if len(batch) == BATCH:
                    pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
                    batch = []
    except ldap.LDAPError as error:
        raise SyncFailed(
            f"the directory could not be read completely ({type(error).__name__}); nothing was changed"
        ) from error
    if batch:
        pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)


def _batches(spool: IO[bytes]) -> Iterator[list[accounts.Account]]:
    while True:
        try:
            yield pickle.load(spool)  # noqa: S301 - our own temporary file, written just now
        except EOFError:
            return


# What the sync compares and writes, read as plain rows (no model instances: a re-run of an
# unchanged directory builds none). A row holds the profile's columns, "pk" and "user_id" (the
# profile's and its user's keys), and the user's columns prefixed with "user__".
USER_COLUMNS = ("username", *accounts.FLAGS, *USER_FIELDS)
PROFILE_COLUMNS = ("dn", "directory_id", *PROFILE_FIELDS)


def _stored_rows(**lookup: Any) -> Iterator[dict[str, Any]]:
    yield from DirectoryProfile.objects.filter(**lookup).values(
        "pk", "user_id", *PROFILE_COLUMNS, *(f"user__{column}" for column in USER_COLUMNS)
    )


def _apply(batch: list[accounts.Account], legacy: dict[str, dict[str, Any]], summary: Summary) -> set[Any]:
    """Create or refresh the users of one batch of accounts; returns their keys. ``legacy``:
    directory users from before stable ids, as stored rows by username (taken as matched)."""
    now = timezone.now()
    wanted = {account.directory_id: account for account in batch}
    stored = {row["directory_id"]: row for row in _stored_rows(directory_id__in=list(wanted))}
    owner_of_username: dict[str, Any] = dict(
        User.objects.filter(username__in=[a.username for a in batch]).values_list("username", "pk")
    )

    user_keys: dict[str, Any] = {}  # by stable id: the user's key, once known
    rows: dict[str, dict[str, Any]] = {}  # by stable id: the stored row of an existing user
    new_users: dict[str, User] = {}  # by stable id
    for directory_id, account in list(wanted.items()):
        row = stored.get(directory_id) or legacy.get(account.username)
        user_key = row["user_id"] if row is not None else None
        owner = owner_of_username.get(account.username)
        if owner is not None and (user_key is None or owner != user_key):
            summary.skipped += 1
            summary.notes.append(f"skipped {account.dn}: {accounts.USERNAME_TAKEN} ({account.username})")
            del wanted[directory_id]
            continue
        if row is None:
            new_users[directory_id] = User(password=accounts.unusable_password(), **account.user_row())
            owner_of_username[account.username] = -1
            continue
        if row["directory_id"] is None:  # a legacy profile goes to one account only
            legacy.pop(account.username, None)
        rows[directory_id] = row
        user_keys[directory_id] = user_key
        owner_of_username[account.username] = user_key
    User.objects.bulk_create(new_users.values(), batch_size=BATCH)
    summary.created += len(new_users)
    created = list(new_users.values())
    if created and created[0].pk is None:  # backends without RETURNING: read the keys back
        keys = dict(User.objects.filter(username__in=[u.username for u in created]).values_list("username", "pk"))
        for user in created:
            user.pk = keys[user.username]
    user_keys.update({directory_id: user.pk for directory_id, user in new_users.items()})

    changed_users, new_profiles, changed_profiles, touched = [], [], [], set()
    for directory_id, account in wanted.items():
        user_key = user_keys[directory_id]
        row = rows.get(directory_id)
        if row is None:
            new_profiles.append(DirectoryProfile(user_id=user_key, synced_at=now, **account.profile_row()))
            continue
        user_row, profile_row = account.user_row(), account.profile_row()
        if any(row[f"user__{column}"] != value for column, value in user_row.items()):
            changed_users.append(User(pk=user_key, **user_row))
            touched.add(user_key)
        if any(row[column] != value for column, value in profile_row.items()):
            changed_profiles.append(DirectoryProfile(pk=row["pk"], user_id=user_key, synced_at=now, **profile_row))
            touched.add(user_key)
    User.objects.bulk_update(changed_users, list(USER_COLUMNS), batch_size=BATCH)
    DirectoryProfile.objects.bulk_create(new_profiles, batch_size=BATCH)
    DirectoryProfile.objects.bulk_update(changed_profiles, [*PROFILE_COLUMNS, "synced_at"], batch_size=BATCH)
    new_keys = {user.pk for user in created}
    touched |= accounts.mirror_groups({user_keys[i]: a.groups for i, a in wanted.items()}, new=new_keys)
    updated = len(touched - new_keys)
    summary.updated += updated
    summary.unchanged += len(wanted) - len(created) - updated
    return set(user_keys.values())


def _deactivate_leavers(kept: set[Any], summary: Summary, *, force: bool, max_share: float) -> None:
    total, leavers = 0, []
    rows = User.objects.filter(directory_profile__isnull=False).values_list("pk", "is_active")
    for pk, active in rows.iterator(chunk_size=BATCH):
        total += 1
        if active and pk not in kept:
            leavers.append(pk)
    count = len(leavers)
    if count and not force and count > max_share * total:
        summary.refused_deactivations = count
        summary.notes.append(
            f"refused to deactivate {count} of {total} directory users ({count / total:.0%}, more than the "
            f"{max_share:.0%} allowed by LDAP_SYNC_MAX_DEACTIVATE_PERCENT); check the directory, then run with --force"
        )
        return
    for start in range(0, count, BATCH):
        summary.deactivated += User.objects.filter(pk__in=leavers[start : start + BATCH]).update(is_active=False)
