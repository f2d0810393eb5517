"""Property: for any directory entry, the Django state a sign-in leaves equals the state ldap_sync
leaves, and a second sync changes nothing. Entries are generated (hypothesis): uid letter case,
NFC/NFD forms, non-ASCII, lengths around the column limits, group names with spaces, ``=``, ``,``,
``+`` and parentheses, and the staff group spelled in another case in the settings. The sync runs
in its batches of 1,000 and in batches of 2 (the generated entry then in the third)."""

from __future__ import annotations

import contextlib
import itertools
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap
import ldap.modlist
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory, override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ldap.dn import escape_dn_chars

from devstack.fixtures import start_directory
from devstack.testing import ldap_settings_for
from identity import sync as sync_module
from identity.models import DirectoryProfile
from identity.sync import sync
from ldap_seed import ADMIN_DN, ADMIN_PASSWORD, SERVICE_UID, USERS_DN
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
User = get_user_model()
UID_NUMBERS = itertools.count(20_000)

UID_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-éÉöÖøßñ"
GROUP_LETTERS = UID_LETTERS + " =,+()&'"
# The seed's own entries (uid=grace, ...): a generated uid the directory matches to one of them
# cannot be added beside it (CI, 2026-11-29: uid='GRACE', ALREADY_EXISTS; uid is caseIgnoreMatch).
SEEDED_UIDS = {persona.uid.lower() for persona in PERSONAS} | {SERVICE_UID.lower()}
uids = st.one_of(
    st.text(UID_LETTERS, min_size=1, max_size=12),
    st.text(UID_LETTERS, min_size=146, max_size=154),  # around the 150 of auth_user.username
).filter(lambda uid: uid.lower() not in SEEDED_UIDS)
group_names = st.one_of(
    st.text(GROUP_LETTERS, min_size=1, max_size=16), st.text(GROUP_LETTERS, min_size=146, max_size=152)
).map(lambda text: f"G{text.strip()}G")  # no seed group's name; no leading or trailing space
mails = st.one_of(
    st.just(""),
    st.builds(lambda n: f"{'m' * n}@example.com", st.integers(1, 20)),
    st.builds(lambda n: f"{'m' * n}@example.com", st.integers(238, 250)),  # around EmailField's 254
)
display_names = st.one_of(st.text(GROUP_LETTERS, max_size=10), st.text(GROUP_LETTERS, min_size=250, max_size=260))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JumpCloudDirectory, Any]]:
    """A slapd of this module's own, and a connection to it as cn=admin."""
    server = start_directory(Path(tmp_path_factory.mktemp("property")) / "ldap")
    admin = ldap.initialize(server.ldap_uri)
    admin.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
    yield server, admin
    admin.unbind_s()
    server.stop()


def swap_ascii_case(text: str) -> str:
    return "".join(c.swapcase() if c.isascii() else c for c in text)


def spelled(uid: str, case: str) -> str:
    """Another spelling of ``uid`` that the directory matches: ASCII letters in another case (the
    directory's caseIgnoreMatch need not fold ß to ss as Python's upper() does)."""
    change = {"same": lambda c: c, "upper": str.upper, "lower": str.lower, "swap": str.swapcase}[case]
    return "".join(change(c) if c.isascii() else c for c in uid)


def django_state(directory_id: str) -> dict[str, Any] | None:
    """Everything the directory decides about the person with this stable id."""
    user = User.objects.filter(directory_profile__directory_id=directory_id).first()
    if user is None:
        return None
    profile = DirectoryProfile.objects.get(user=user)
    return {
        "user": {f: getattr(user, f) for f in ("username", "first_name", "last_name", "email")},
        "flags": (user.is_active, user.is_staff, user.is_superuser),
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "profile": {
            f.name: getattr(profile, f.name)
            for f in DirectoryProfile._meta.fields
            if f.name not in ("id", "user", "synced_at")
        },
    }


def forget_django_state() -> None:
    AccessAttempt.objects.all().delete()  # an example's refusals must not lock the next one out
    User.objects.all().delete()
    Group.objects.all().delete()


@pytest.mark.parametrize("batch_size", [sync_module.BATCH, 2])
@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    uid=uids,
    decomposed=st.booleans(),
    typed_case=st.sampled_from(["same", "upper", "lower", "swap"]),
    groups=st.lists(group_names, max_size=3, unique_by=lambda name: name.casefold()),
    in_app_group=st.sampled_from([True, True, True, False]),  # mostly members
    active=st.booleans(),
    staff_index=st.integers(0, 3),
    mail=mails,
    display_name=display_names,
)
def test_sign_in_and_sync_leave_the_same_state(
    lab: tuple[JumpCloudDirectory, Any],
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
    uid: str,
    decomposed: bool,
    typed_case: str,
    groups: list[str],
    in_app_group: bool,
    active: bool,
    staff_index: int,
    mail: str,
    display_name: str,
) -> None:
    server, admin = lab
    monkeypatch.setattr(sync_module, "BATCH", batch_size)
    stored_uid = unicodedata.normalize("NFD" if decomposed else "NFC", uid)
    uid_number = str(next(UID_NUMBERS))
    password = f"pw-{uid_number}"
    entry_dn = f"uid={escape_dn_chars(stored_uid)},{USERS_DN}"
    attributes: dict[str, list[bytes]] = {
        "objectClass": [b"top", b"person", b"organizationalPerson", b"inetOrgPerson", b"posixAccount"],
        "uid": [stored_uid.encode()],
        "cn": [b"Generated Person"],
        "sn": [b"Person"],
        "uidNumber": [uid_number.encode()],
        "gidNumber": [uid_number.encode()],
        "homeDirectory": [f"/home/{uid_number}".encode()],
        "userPassword": [password.encode()],
    }
    if mail:
        attributes["mail"] = [mail.encode()]
    if display_name.strip():
        attributes["displayName"] = [display_name.strip().encode()]
    admin.add_s(entry_dn, ldap.modlist.addModlist(attributes))
    group_dns = [f"cn={escape_dn_chars(name)},{USERS_DN}" for name in groups]
    seed_groups = [name for name, wanted in (("Django App", in_app_group), ("active", active)) if wanted]
    try:
        for name, group_dn in zip(groups, group_dns, strict=True):
            admin.add_s(
                group_dn,
                ldap.modlist.addModlist(
                    {"objectClass": [b"top", b"groupOfNames"], "cn": [name.encode()], "member": [entry_dn.encode()]}
                ),
            )
        for name in seed_groups:
            admin.modify_s(f"cn={name},{USERS_DN}", [(ldap.MOD_ADD, "member", [entry_dn.encode()])])
        staff = swap_ascii_case(groups[staff_index]) if staff_index < len(groups) else "staff"
        with override_settings(**ldap_settings_for(server, LDAP_STAFF_GROUP=staff)):
            forget_django_state()
            typed = unicodedata.normalize("NFC", spelled(uid, typed_case))
            authenticate(RequestFactory().post("/login/"), username=typed, password=password)
            after_sign_in = django_state(uid_number)
            event("signed in" if after_sign_in else "no Django user")
            if after_sign_in:
                event(f"groups mirrored: {len(after_sign_in['groups'])}")
                event(f"staff: {after_sign_in['flags'][1]}")

            forget_django_state()
            sync(force=True)
            after_sync = django_state(uid_number)
            assert after_sync == after_sign_in

            again = sync(force=True)
            assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
            assert django_state(uid_number) == after_sync
    finally:
        for name in seed_groups:
            admin.modify_s(f"cn={name},{USERS_DN}", [(ldap.MOD_DELETE, "member", [entry_dn.encode()])])
        for group_dn in group_dns:
            with contextlib.suppress(ldap.NO_SUCH_OBJECT):
                admin.delete_s(group_dn)
        admin.delete_s(entry_dn)
