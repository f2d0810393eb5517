"""``manage.py ldap_sync``: Django's directory users brought in line with the directory, in bulk.

One paged search reads every user under the base DN (memberOf included; with
``LDAP_GROUP_SOURCE=search``, one paged search of the groups too). Each entry goes through
``identity.accounts.decide``, the decision the sign-in makes, so a sync and a sign-in leave the
same Django state. Members of the app group are created or refreshed (found by their stable id, so
a rename in JumpCloud renames the Django user); directory users (those with a ``DirectoryProfile``)
that are gone from the directory or from the app group are deactivated. Local accounts are never
touched. Only rows that changed are written, in bulk.

Memory stays flat as the directory grows. The directory is read a page at a time; each entry is
decided as it arrives and the accounts go to a temporary file (the spool) in batches of ``BATCH``.
Once the whole directory has been read, the batches are applied one after another in one
transaction, each with a bounded number of queries. All the run keeps in memory is a few dozen
bytes a person: the stable ids and usernames seen (two entries sharing one are both skipped,
wherever they are in the directory) and the keys of the users kept. (With
``LDAP_GROUP_SOURCE=search``, every member's group DNs too: the groups are read first.)

Safety: an LDAP error at any point, a search cut short included, stops the sync before anything is
written. Deactivating more than ``LDAP_SYNC_MAX_DEACTIVATE_PERCENT`` of the directory users is refused
(the rest is applied) unless forced: a wrong filter or a broken group binding in JumpCloud must not
lock everybody out. An entry that cannot be an account (a username too long for Django, no stable
id, a username held by another account) is skipped with a note; the others go on.
"""

from __future__ import annotations

import gc
import pickle
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import ldap
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from identity import accounts, dn, ldap_client
from identity.attributes import PROFILE_FIELDS, USER_FIELDS
from identity.directory_settings import SEARCH, USER_OBJECT_FILTER, current
from identity.models import DirectoryProfile, DirectorySync

PAGE_SIZE = ldap_client.PAGE_SIZE
# Accounts per batch: what one batch's queries name in their IN lists (SQLite allows 32,766
# parameters a statement), and how many accounts are in memory at once.
BATCH = 1000
USERNAME_SHARED = "username shared by another directory entry"


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
    attribute = current().user_id_attribute
    summary = Summary(dry_run=dry_run)
    with _older_objects_frozen(), _spool() as spool:
        try:
            twins = _read_into(spool, summary, progress)
            spool.seek(0)
        except OSError as error:  # the spool's disk: full, read-only, gone
            raise SyncFailed(_spool_failed(error)) from error
        with transaction.atomic():
            # Directory users to adopt (their stable id not read with this attribute) only become
            # fewer during a run: when there are none at the start, no batch looks for them.
            adopting = DirectoryProfile.objects.exclude(directory_id_attribute=attribute).exists()
            kept: set[int] = set()
            for batch in _batches(spool):
                kept |= _apply(batch, twins, attribute, summary, adopting=adopting)
            _deactivate_leavers(kept, summary, force=force, max_share=max_share)
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


@contextmanager
def _spool() -> Iterator[IO[bytes]]:
    """The temporary file the accounts wait in between the read and the writes (in ``TMPDIR``)."""
    try:
        spool = tempfile.TemporaryFile(prefix="ldap_sync-")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        raise SyncFailed(_spool_failed(error)) from error
    with spool:
        yield spool


def _spool_failed(error: OSError) -> str:
    return (
        f"the temporary folder {tempfile.gettempdir()} cannot hold the directory's accounts until they "
        f"are written ({error.strerror or error}): free space there, or set TMPDIR to a folder with "
        "about 1 MB free per 2,500 users; nothing was changed"
    )


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """The objects that exist before the sync (Django's, mostly) kept out of the garbage
    collector's scans while it runs (``gc.freeze``). The objects a sync allocates set off full
    collections (12 in a first run at 10,000 users), and each would walk all of Django's objects
    again: 0.1-0.3 s of a 1.5-2.6 s ``manage.py ldap_sync`` there."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Twins:
    """The stable ids and usernames that more than one member of the app group has: every entry
    with one of them is skipped, since no rule can tell which of them is the person."""

    ids: set[str] = field(default_factory=set)
    usernames: set[str] = field(default_factory=set)

    def reason(self, account: accounts.Account) -> str:
        if account.directory_id in self.ids:
            return accounts.STABLE_ID_SHARED
        return USERNAME_SHARED if account.username in self.usernames else ""


def _read_into(spool: IO[bytes], summary: Summary, progress: Callable[[int], None]) -> Twins:
    """Every entry that matters to Django (a member of the app group, or an entry refused as an
    account, whose user must be left alone), decided and written to ``spool`` in batches of at
    most ``BATCH``. Returns the stable ids and usernames several members share. Raises
    ``SyncFailed``."""
    directory = current()
    twins = Twins()
    seen_ids: set[str] = set()
    seen_usernames: set[str] = set()
    batch: list[accounts.Account] = []
    try:
        for entry in read_directory(progress):
            summary.seen += 1
            account = accounts.decide(entry, directory)
            accounts.log_warnings(account)
            if not account.refusal:
                if not account.is_member:
                    continue
                _count(account.directory_id, seen_ids, twins.ids)
                _count(account.username, seen_usernames, twins.usernames)
            batch.append(account)
            if len(batch) >= BATCH:
                _write_batch(spool, batch)
                batch = []
    except ldap.LDAPError as error:
        raise SyncFailed(
            f"the directory could not be read completely ({type(error).__name__}); nothing was changed"
        ) from error
    if batch:
        _write_batch(spool, batch)
    return twins


def _count(value: str, seen: set[str], twice: set[str]) -> None:
    if value in seen:
        twice.add(value)
    else:
        seen.add(value)


# A spooled batch: its length (8 bytes), then the pickled accounts, compressed: about 380 bytes an
# account pickled, 50 compressed (generated users), so 100,000 users fit the CronJob's /tmp.
def _write_batch(spool: IO[bytes], batch: list[accounts.Account]) -> None:
    data = zlib.compress(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL), 1)
    spool.write(len(data).to_bytes(8, "big"))
    spool.write(data)


def _batches(spool: IO[bytes]) -> Iterator[list[accounts.Account]]:
    while header := spool.read(8):
        data = zlib.decompress(spool.read(int.from_bytes(header, "big")))
        yield pickle.loads(data)  # noqa: S301 - the temporary file this run wrote, no one else's


def _skip(account: accounts.Account, reason: str, summary: Summary, skipped: list[accounts.Account]) -> None:
    """An entry that cannot be applied: noted, and its Django user (if any) left as it is."""
    summary.skipped += 1
    summary.notes.append(f"skipped {account.dn}: {reason}")
    skipped.append(account)


# What a batch compares and writes, read as plain rows (values()): an unchanged re-run builds no
# model instances. A row holds the profile's columns, "pk" and "user_id" (the profile's and its
# user's keys), and the user's columns prefixed with "user__".
USER_COLUMNS = ("username", *accounts.FLAGS, *USER_FIELDS)
PROFILE_COLUMNS = ("dn", "directory_id", "directory_id_attribute", *PROFILE_FIELDS)
Row = dict[str, Any]


def _stored_rows(condition: Q) -> list[Row]:
    return list(
        DirectoryProfile.objects.filter(condition)
        .order_by("pk")
        .values("pk", "user_id", *PROFILE_COLUMNS, *(f"user__{column}" for column in USER_COLUMNS))
    )


def _storable(values: Iterable[str], limit: int) -> list[str]:
    """The values a column could hold: a refused entry's id or username may hold NUL (which
    PostgreSQL refuses even in a query) or be too long; no stored row has those."""
    return [value for value in values if value and "\x00" not in value and len(value) <= limit]


def _apply(
    batch: list[accounts.Account], twins: Twins, attribute: str, summary: Summary, *, adopting: bool
) -> set[int]:
    """One batch, by the rules of ``accounts.save`` in bulk: find each person by stable id (or
    adopt an unkeyed directory user by DN, then username), move aside directory users holding a
    username that now belongs to someone else, refuse a username held by a local account, write
    only what changed. Returns the keys of the users kept: applied, or left alone because their
    entry was skipped (never deactivated here)."""
    wanted: dict[str, accounts.Account] = {}
    skipped: list[accounts.Account] = []
    for account in batch:
        reason = account.refusal or twins.reason(account)
        if reason:
            _skip(account, reason, summary, skipped)
        else:
            wanted[account.directory_id] = account

    everyone = [*wanted.values(), *skipped]
    ids = _storable((a.directory_id for a in everyone), accounts.DIRECTORY_ID_MAX_LENGTH)
    usernames = _storable((a.username for a in everyone), accounts.USERNAME_MAX_LENGTH)
    by_id = {
        row["directory_id"]: row for row in _stored_rows(Q(directory_id_attribute=attribute, directory_id__in=ids))
    }
    unkeyed = (
        _stored_rows(
            ~Q(directory_id_attribute=attribute)
            & (Q(dn__in=[a.dn for a in wanted.values()]) | Q(user__username__in=usernames))
        )
        if adopting
        else []
    )
    unkeyed_by_dn = {row["dn"]: row for row in unkeyed}
    unkeyed_by_username = {row["user__username"]: row for row in unkeyed}

    protected: set[int] = set()
    for account in skipped:
        row = by_id.get(account.directory_id) or unkeyed_by_username.get(account.username)
        if row is not None:
            protected.add(row["user_id"])

    rows: dict[str, Row] = {}  # by stable id: the stored row of the user the person already has
    adopted: set[int] = set()
    for directory_id, account in wanted.items():
        row = by_id.get(directory_id)
        if row is None:
            for candidate in (unkeyed_by_dn.get(account.dn), unkeyed_by_username.get(account.username)):
                if candidate is not None and candidate["user_id"] not in adopted:
                    row = candidate
                    adopted.add(candidate["user_id"])
                    break
        if row is not None:
            rows[directory_id] = row

    _make_room(wanted, rows, protected, summary, skipped)

    new_users = {
        directory_id: User(password=accounts.unusable_password(), **account.user_row())
        for directory_id, account in wanted.items()
        if directory_id not in rows
    }
    created = list(new_users.values())
    User.objects.bulk_create(created)
    if created and created[0].pk is None:  # backends without RETURNING: read the keys back
        keys = dict(User.objects.filter(username__in=[u.username for u in created]).values_list("username", "pk"))
        for user in created:
            user.pk = keys[user.username]

    now = timezone.now()
    user_ids: dict[str, int] = {}
    changed_users, new_profiles, changed_profiles, touched = [], [], [], set()
    for directory_id, account in wanted.items():
        row = rows.get(directory_id)
        if row is None:
            user_ids[directory_id] = new_users[directory_id].pk
            new_profiles.append(
                DirectoryProfile(user_id=user_ids[directory_id], synced_at=now, **account.profile_row())
            )
            continue
        user_id = user_ids[directory_id] = row["user_id"]
        user_row, profile_row = account.user_row(), account.profile_row()
        if any(row[f"user__{column}"] != value for column, value in user_row.items()):
            changed_users.append(User(pk=user_id, **user_row))
            touched.add(user_id)
        if any(row[column] != value for column, value in profile_row.items()):
            changed_profiles.append(DirectoryProfile(pk=row["pk"], user_id=user_id, synced_at=now, **profile_row))
            touched.add(user_id)
    User.objects.bulk_update(changed_users, USER_COLUMNS)
    DirectoryProfile.objects.bulk_create(new_profiles)
    DirectoryProfile.objects.bulk_update(changed_profiles, [*PROFILE_COLUMNS, "synced_at"])
    new_keys = {user.pk for user in created}
    touched |= accounts.mirror_groups({user_ids[i]: a.groups for i, a in wanted.items()}, new=new_keys)
    updated = len(touched - new_keys)
    summary.created += len(created)
    summary.updated += updated
    summary.unchanged += len(wanted) - len(created) - updated
    return set(user_ids.values()) | protected


def _make_room(
    wanted: dict[str, accounts.Account],
    rows: dict[str, Row],
    protected: set[int],
    summary: Summary,
    skipped: list[accounts.Account],
) -> None:
    """Each wanted username held by another Django user: a directory user holding it is moved
    aside (``accounts.parked_username``, in one statement for the batch); a local account keeps
    it, and the entry is skipped (its own user, if any, left as it is)."""
    holders = User.objects.filter(username__in=[a.username for a in wanted.values()]).values_list(
        "username", "pk", "directory_profile"
    )
    holder_of = {username: (pk, profile is not None) for username, pk, profile in holders}
    parked = []
    for directory_id, account in list(wanted.items()):
        row = rows.get(directory_id)
        holder = holder_of.get(account.username)
        if holder is None or (row is not None and holder[0] == row["user_id"]):
            continue
        holder_pk, directory_user = holder
        if not directory_user:
            if row is not None:
                protected.add(row["user_id"])
            _skip(account, f"{accounts.USERNAME_TAKEN} ({account.username})", summary, skipped)
            del wanted[directory_id]
            rows.pop(directory_id, None)
            continue
        parked.append(
            User(pk=holder_pk, username=accounts.parked_username(User(pk=holder_pk, username=account.username)))
        )
    User.objects.bulk_update(parked, ["username"])


def _deactivate_leavers(kept: set[int], summary: Summary, *, force: bool, max_share: float) -> None:
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
