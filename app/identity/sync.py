"""``manage.py ldap_sync``: Django's directory users brought in line with the directory, in bulk.

One paged search reads every user under the base DN (memberOf included). Members of the app group
are created or refreshed: User fields, flags, mirrored groups and profile, from the same tables the
sign-in uses. Directory users (those with a ``DirectoryProfile``) that are gone from the directory
or from the app group are deactivated. Local accounts are never touched.

Safety: an LDAP error at any point, a search cut short included, stops the sync before anything is
written. Deactivating more than ``LDAP_SYNC_MAX_DEACTIVATE_PERCENT`` of the directory users is refused
(the rest is applied) unless forced: a wrong filter or a broken group binding in JumpCloud must not
lock everybody out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ldap
import ldap.dn
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from ldap.controls import SimplePagedResultsControl

from identity.directory import ATTRIBUTE_MAP, PROFILE, USER
from identity.directory_settings import ldap_setting, service_connection
from identity.groups import MemberOfGroupType, normalized_dn
from identity.models import DirectoryProfile, DirectorySync

PAGE_SIZE = 500
FLAGS = ("is_active", "is_staff", "is_superuser")
USER_FIELDS = [name for target, name, _ in ATTRIBUTE_MAP if target == USER]
PROFILE_FIELDS = [name for target, name, _ in ATTRIBUTE_MAP if target == PROFILE]


class SyncFailed(Exception):
    """The directory could not be read completely; nothing was changed."""


@dataclass
class Entry:
    """One directory user as Django should hold them."""

    username: str
    dn: str
    user: dict[str, Any]
    profile: dict[str, str]
    groups: frozenset[str]


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    refused_deactivations: int = 0
    seen: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"created {self.created}, updated {self.updated}, deactivated {self.deactivated}, "
            f"unchanged {self.unchanged} ({self.seen} directory users read)"
        )
        return f"{text} [dry run: nothing written]" if self.dry_run else text


def read_directory(progress: Callable[[int], None] = lambda n: None) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
    """Every user entry under the base DN, through RFC 2696 paged results."""
    search = ldap_setting("USER_SEARCH")
    connection = service_connection()
    control = SimplePagedResultsControl(True, size=PAGE_SIZE, cookie=b"")
    while True:
        msgid = connection.search_ext(
            search.base_dn, search.scope, "(objectClass=inetOrgPerson)", search.attrlist, serverctrls=[control]
        )
        _, results, _, response_controls = connection.result3(msgid)
        entries = [(dn, attrs) for dn, attrs in results if dn]
        progress(len(entries))
        yield from entries
        cookies = [c.cookie for c in response_controls if c.controlType == SimplePagedResultsControl.controlType]
        if not cookies or not cookies[0]:
            break
        control.cookie = cookies[0]
    connection.unbind_s()


def _group_memberships() -> dict[str, frozenset[str]] | None:
    """With LDAP_GROUP_SOURCE=search, each user DN's group names from one search of the groups."""
    if isinstance(ldap_setting("GROUP_TYPE"), MemberOfGroupType):
        return None
    search = ldap_setting("GROUP_SEARCH")
    connection = service_connection()
    memberships: dict[str, set[str]] = {}
    for _, attrs in connection.search_s(search.base_dn, search.scope, search.filterstr, ["cn", "member"]):
        name = attrs["cn"][0].decode()
        for member in attrs.get("member", []):
            memberships.setdefault(normalized_dn(member.decode()), set()).add(name)
    connection.unbind_s()
    return {dn: frozenset(names) for dn, names in memberships.items()}


class _Reading:
    """What every entry is read against, worked out once per sync: a user's groups are names, and
    the handful of distinct memberOf values are parsed once each, not once per user."""

    def __init__(self) -> None:
        self.base = ldap.dn.str2dn(ldap_setting("GROUP_SEARCH").base_dn.lower())
        self.names_by_member_of: dict[str, str | None] = {}
        self.app_group = self.group_name(ldap_setting("REQUIRE_GROUP"))
        self.flag_groups = {flag: self.group_name(dn) for flag, dn in ldap_setting("USER_FLAGS_BY_GROUP").items()}
        self.max_lengths = {}
        for target, name, _ in ATTRIBUTE_MAP:
            model = User if target == USER else DirectoryProfile
            self.max_lengths[name] = model._meta.get_field(name).max_length  # type: ignore[union-attr]

    def group_name(self, dn: str) -> str | None:
        """The name of the group ``dn`` if it is one directly under the group base, else None."""
        if dn not in self.names_by_member_of:
            name = None
            try:
                rdns = ldap.dn.str2dn(dn)
            except ldap.DECODING_ERROR:
                rdns = []
            if rdns and [[(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in rdns[1:]] == self.base:
                name = rdns[0][0][1]
            self.names_by_member_of[dn] = name
        return self.names_by_member_of[dn]

    def entry(
        self, dn: str, raw: dict[str, list[bytes]], groups_by_dn: dict[str, frozenset[str]] | None
    ) -> Entry | None:
        attrs = {name.lower(): values for name, values in raw.items()}
        uid = (attrs.get("uid") or [b""])[0].decode().strip().lower()
        if not uid:
            return None
        if groups_by_dn is None:
            found = (self.group_name(value.decode()) for value in attrs.get("memberof", []))
            names = frozenset(name for name in found if name is not None)
        else:
            names = groups_by_dn.get(normalized_dn(dn), frozenset())
        values = {}
        for _, name, attribute in ATTRIBUTE_MAP:
            raw_values = attrs.get(attribute.lower())
            value = raw_values[0].decode() if raw_values else ""
            max_length = self.max_lengths[name]
            values[name] = value[:max_length] if max_length else value
        user: dict[str, Any] = {name: values[name] for name in USER_FIELDS}
        for flag, group in self.flag_groups.items():
            user[flag] = group is not None and group in names
        profile = {name: values[name] for name in PROFILE_FIELDS}
        # django-auth-ldap lower-cases DNs at sign-in; the profile keeps one spelling whichever wrote it.
        return Entry(uid, dn.lower(), user, profile, names)


def sync(
    *,
    dry_run: bool = False,
    force: bool = False,
    max_share: float | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Read the whole directory, then write the differences in one transaction."""
    max_share = settings.LDAP_SYNC_MAX_DEACTIVATE_PERCENT / 100 if max_share is None else max_share
    reading = _Reading()
    try:
        groups_by_dn = _group_memberships()
        entries = [e for dn, raw in read_directory(progress) if (e := reading.entry(dn, raw, groups_by_dn)) is not None]
    except ldap.LDAPError as error:
        raise SyncFailed(
            f"the directory could not be read completely ({type(error).__name__}); nothing was changed"
        ) from error
    wanted = {e.username: e for e in entries if reading.app_group is not None and reading.app_group in e.groups}
    summary = Summary(seen=len(entries), dry_run=dry_run)
    with transaction.atomic():
        _apply(wanted, summary, force=force, max_share=max_share)
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


def _apply(wanted: dict[str, Entry], summary: Summary, *, force: bool, max_share: float) -> None:
    now = timezone.now()
    users = {u.username: u for u in User.objects.filter(username__in=wanted).select_related("directory_profile")}
    new_users = [
        User(username=name, password=make_password(None), **entry.user)
        for name, entry in wanted.items()
        if name not in users
    ]
    User.objects.bulk_create(new_users, batch_size=1000)
    summary.created = len(new_users)
    created_names = {u.username for u in new_users}
    if created_names:  # read the new rows back for their keys; the others are already in hand
        users.update({u.username: u for u in User.objects.filter(username__in=created_names)})

    changed_users, new_profiles, changed_profiles = [], [], []
    for name, entry in wanted.items():
        user = users[name]
        user_changed = any(getattr(user, key) != value for key, value in entry.user.items())
        if user_changed:
            for key, value in entry.user.items():
                setattr(user, key, value)
            changed_users.append(user)
        profile = getattr(user, "directory_profile", None)
        if profile is None:
            new_profiles.append(DirectoryProfile(user=user, dn=entry.dn, synced_at=now, **entry.profile))
            profile_changed = True
        else:
            profile_changed = profile.dn != entry.dn or any(getattr(profile, k) != v for k, v in entry.profile.items())
            if profile_changed:
                profile.dn = entry.dn
                for key, value in entry.profile.items():
                    setattr(profile, key, value)
                profile.synced_at = now
                changed_profiles.append(profile)
        if name not in created_names and (user_changed or profile_changed):
            summary.updated += 1
    User.objects.bulk_update(changed_users, [*USER_FIELDS, *FLAGS], batch_size=1000)
    DirectoryProfile.objects.bulk_create(new_profiles, batch_size=1000)
    DirectoryProfile.objects.bulk_update(changed_profiles, ["dn", "synced_at", *PROFILE_FIELDS], batch_size=1000)
    summary.updated += _mirror_groups(
        wanted, users, created_names, {u.username for u in changed_users} | {p.user.username for p in changed_profiles}
    )
    summary.unchanged = len(wanted) - summary.created - summary.updated
    _deactivate_leavers(wanted, summary, force=force, max_share=max_share)


def _mirror_groups(
    wanted: dict[str, Entry], users: dict[str, User], created: set[str], already_counted: set[str]
) -> int:
    """Django group memberships as the directory has them; returns users updated only here."""
    names = set().union(*(e.groups for e in wanted.values())) if wanted else set()
    Group.objects.bulk_create([Group(name=n) for n in names], ignore_conflicts=True)
    group_ids = dict(Group.objects.filter(name__in=names).values_list("name", "id"))
    through = User.groups.through
    current: dict[int, set[int]] = {}
    for user_id, group_id in through.objects.filter(user__in=users.values()).values_list("user_id", "group_id"):
        current.setdefault(user_id, set()).add(group_id)
    additions, removals, touched = [], [], 0
    for name, entry in wanted.items():
        user = users[name]
        target = {group_ids[g] for g in entry.groups}
        have = current.get(user.pk, set())
        if target == have:
            continue
        additions += [through(user_id=user.pk, group_id=g) for g in target - have]
        removals += [(user.pk, g) for g in have - target]
        if name not in created and name not in already_counted:
            touched += 1
    through.objects.bulk_create(additions, batch_size=1000)
    for user_id, group_id in removals:
        through.objects.filter(user_id=user_id, group_id=group_id).delete()
    return touched


def _deactivate_leavers(wanted: dict[str, Entry], summary: Summary, *, force: bool, max_share: float) -> None:
    directory_users = User.objects.filter(directory_profile__isnull=False)
    leavers = directory_users.filter(is_active=True).exclude(username__in=wanted)
    count, total = leavers.count(), directory_users.count()
    if count and not force and count > max_share * total:
        summary.refused_deactivations = count
        summary.notes.append(
            f"refused to deactivate {count} of {total} directory users ({count / total:.0%}, more than the "
            f"{max_share:.0%} allowed by LDAP_SYNC_MAX_DEACTIVATE_PERCENT); check the directory, then run with --force"
        )
        return
    summary.deactivated = leavers.update(is_active=False)
