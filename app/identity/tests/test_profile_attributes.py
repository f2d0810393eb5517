"""The directory profile: filled at first sign-in, refreshed and cleared as the directory changes."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model

from identity.attributes import ATTRIBUTE_MAP, PROFILE
from identity.models import DirectoryProfile
from ldap_seed import user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
User = get_user_model()


def sign_in(uid: str) -> None:
    assert authenticate(username=uid, password=BY_UID[uid].password) is not None


def test_first_sign_in_fills_every_mapped_field() -> None:
    sign_in("linus")
    user = User.objects.get(username="linus")
    profile = user.directory_profile
    assert (user.first_name, user.last_name, user.email) == ("Linus", "Bjørkström", "linus@example.com")
    assert profile.dn.lower() == user_dn("linus").lower()  # django-auth-ldap lower-cases DNs
    assert profile.display_name == "Linus Bjørkström"
    assert profile.middle_name == "B"
    assert profile.title == "Developer"
    assert profile.department == "Produktutveckling"
    assert profile.cost_center == "CC-2001"
    assert profile.location == "Göteborg"
    assert profile.employee_id == "E-0003"
    assert profile.employee_type == "Contractor"
    assert profile.company == "Öresund Systems AB"
    assert profile.description == "Member: signs in, no admin"
    assert profile.phone == "+46 31 123 45 67"


IDENTITY_FIELDS = {"id", "user", "dn", "directory_id", "directory_id_attribute", "synced_at"}


def test_every_profile_field_is_in_the_map() -> None:
    mapped = {field for target, field, _ in ATTRIBUTE_MAP if target == PROFILE}
    model_fields = {f.name for f in DirectoryProfile._meta.fields} - {
        "id",
        "user",
        "dn",
        "directory_id",
        "directory_id_attribute",
        "synced_at",
    }
    assert mapped == model_fields


def test_missing_attributes_become_empty_fields() -> None:
    sign_in("grace")
    profile = DirectoryProfile.objects.get(user__username="grace")
    assert (profile.middle_name, profile.company, profile.description, profile.phone) == ("", "", "", "")
    assert profile.title == "Staff Engineer"


def test_changes_in_the_directory_show_at_next_sign_in(own_directory: JumpCloudDirectory) -> None:
    sign_in("linus")
    own_directory.modify(
        f"""dn: {user_dn("linus")}
changetype: modify
replace: title
title: Principal Developer
-
replace: mail
mail: linus.b@example.com
-
delete: mobile
-
delete: company
"""
    )
    sign_in("linus")
    user = User.objects.get(username="linus")
    assert user.email == "linus.b@example.com"
    assert user.directory_profile.title == "Principal Developer"
    assert user.directory_profile.phone == ""
    assert user.directory_profile.company == ""


def test_local_accounts_have_no_profile() -> None:
    User.objects.create_user("local-admin", password="a-long-local-password")
    assert authenticate(username="local-admin", password="a-long-local-password") is not None
    assert not DirectoryProfile.objects.filter(user__username="local-admin").exists()
