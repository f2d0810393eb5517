"""A change of groups in the directory takes effect at the next sign-in: nothing is cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model

from devstack.testing import remove_member
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
User = get_user_model()


def sign_in(uid: str) -> object:
    return authenticate(username=uid, password=BY_UID[uid].password)


def test_nothing_about_the_directory_is_cached(settings: Any) -> None:
    assert settings.AUTH_LDAP_CACHE_TIMEOUT == 0
    assert settings.AUTH_LDAP_FIND_GROUP_PERMS is False


def test_removal_from_staff_revokes_staff_at_next_sign_in(own_directory: JumpCloudDirectory) -> None:
    assert sign_in("grace") is not None
    assert User.objects.get(username="grace").is_staff
    remove_member(own_directory, "grace", "staff")
    assert sign_in("grace") is not None
    grace = User.objects.get(username="grace")
    assert grace.is_staff is False
    assert "staff" not in set(grace.groups.values_list("name", flat=True))


def test_removal_from_the_app_group_denies_the_next_sign_in(own_directory: JumpCloudDirectory) -> None:
    assert sign_in("linus") is not None
    remove_member(own_directory, "linus", "Django App")
    assert sign_in("linus") is None


def test_removal_from_active_makes_the_account_inactive(own_directory: JumpCloudDirectory) -> None:
    assert sign_in("linus") is not None
    remove_member(own_directory, "linus", "active")
    sign_in("linus")
    assert User.objects.get(username="linus").is_active is False
