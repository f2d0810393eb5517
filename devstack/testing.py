"""What the tests share: the environment that points Django at a directory, signing in, and changing
the directory between steps. The pytest fixtures are in ``devstack.fixtures``."""

from __future__ import annotations

import base64
import io
import os
import time
from typing import Any
from unittest import mock

from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from identity import decisions
from identity.directory_settings import DirectorySettings, settings_for_django
from identity.models import DirectoryProfile
from ldap.dn import escape_dn_chars

from devstack.environment import directory_environment
from ldap_seed import USERS_DN, group_dn, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import Persona


def ldap_settings_for(directory: JumpCloudDirectory, **overrides: str) -> dict[str, Any]:
    """The Django settings (LDAP_DIRECTORY and AUTH_LDAP_*) for ``directory``, as the settings module
    would make them from ``directory_environment``; for ``override_settings``."""
    with mock.patch.dict(os.environ, directory_environment(directory, **overrides)):
        return settings_for_django(DirectorySettings.from_environment())


def authenticate_with_reason(username: str, password: str) -> tuple[Any, str]:
    """Django's authenticate() as the sign-in form calls it: the user (or None) and the reason the
    backends recorded (identity.decisions), "" when none was."""
    request = RequestFactory().post("/login/")
    user = authenticate(request, username=username, password=password)
    decision = decisions.recorded(request)
    return user, decision.reason if decision else ""


def run_doctor(*args: str) -> tuple[bool, str]:
    """``manage.py ldap_doctor ARGS`` with the settings in force: (passed, the report)."""
    output = io.StringIO()
    try:
        call_command("ldap_doctor", *args, stdout=output, no_color=True)
    except CommandError:
        return False, output.getvalue()
    return True, output.getvalue()


def sign_in(client: Client, username: str, password: str, **extra: str) -> Any:
    """Post the login form the way a browser does."""
    return client.post("/login/", {"username": username, "password": password, **extra})


def sign_in_as(client: Client, persona: Persona) -> Any:
    return sign_in(client, persona.uid, persona.password)


# -- changing the directory between sign-ins (as cn=admin) -------------------------------------


def remove_member(directory: JumpCloudDirectory, uid: str, group: str) -> None:
    """Take ``uid`` out of the group named ``group`` (memberOf follows: the overlay)."""
    directory.modify(f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {user_dn(uid)}\n")


def add_group(directory: JumpCloudDirectory, name: str, *uids: str) -> str:
    """A JumpCloud-shaped group (groupOfNames in ou=Users, cn and ou = the name) with members;
    returns its DN, the name escaped as RFC 4514 asks."""
    group = f"cn={escape_dn_chars(name)},{USERS_DN}"
    members = "".join(f"member: {user_dn(uid)}\n" for uid in uids)
    directory.modify(
        f"dn: {group}\nchangetype: add\nobjectClass: top\nobjectClass: groupOfNames\n"
        f"cn: {name}\nou: {name}\ndescription: tagGroup\n{members}"
    )
    return group


def add_user(directory: JumpCloudDirectory, uid: str, uid_number: int, *groups: str, **attributes: str) -> str:
    """A JumpCloud-shaped user entry, member of ``groups`` (names); returns its DN. ``attributes``
    are added as they are (``mail="..."``); the password is ``<uid>-demo-pass``."""
    entry_dn = f"uid={escape_dn_chars(uid)},{USERS_DN}"
    extra = "".join(f"{name}:: {_b64(value)}\n" for name, value in attributes.items())
    directory.modify(
        f"dn:: {_b64(entry_dn)}\nchangetype: add\nobjectClass: top\nobjectClass: person\n"
        "objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
        f"uid:: {_b64(uid)}\ncn: Test User\nsn: User\nuidNumber: {uid_number}\ngidNumber: {uid_number}\n"
        f"homeDirectory: /home/u{uid_number}\nuserPassword:: {_b64(uid + '-demo-pass')}\n{extra}"
    )
    for group in groups:
        group_entry = f"cn={escape_dn_chars(group)},{USERS_DN}"
        directory.modify(f"dn:: {_b64(group_entry)}\nchangetype: modify\nadd: member\nmember:: {_b64(entry_dn)}\n")
    return entry_dn


def rename_user(directory: JumpCloudDirectory, uid: str, new_uid: str) -> None:
    """A username change in JumpCloud: the entry's RDN changes, the person (uidNumber) stays."""
    directory.modify(f"dn: {user_dn(uid)}\nchangetype: modrdn\nnewrdn: uid={new_uid}\ndeleteoldrdn: 1\n")


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def wait_out_the_breaker(seconds: float) -> None:
    """After an outage, directory calls fail fast for LDAP_BREAKER_SECONDS (identity.breaker);
    the first call after that is the probe that closes the circuit again."""
    time.sleep(seconds + 0.05)


def account_state() -> dict[str, Any]:
    """Everything the directory decides about each Django user, by username: user fields, group
    names, profile fields (what two syncs, or a sign-in and a sync, must agree on)."""
    result = {}
    profile_fields = [f.name for f in DirectoryProfile._meta.fields if f.name not in ("id", "user", "synced_at")]
    for user in get_user_model().objects.select_related("directory_profile").order_by("username"):
        profile = getattr(user, "directory_profile", None)
        result[user.username] = {
            "user": (user.first_name, user.last_name, user.email, user.is_active, user.is_staff, user.is_superuser),
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "profile": None if profile is None else {name: getattr(profile, name) for name in profile_fields},
        }
    return result
