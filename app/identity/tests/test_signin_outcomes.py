"""Every persona's outcome, through the login view and through Django's authenticate()."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from devstack.testing import sign_in_as
from identity.forms import GENERIC_ERROR
from ldap_seed.personas import BY_UID, PERSONAS, Persona

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p.signs_in], ids=lambda p: p.uid)
def test_member_signs_in_with_flags_from_groups(client: Client, persona: Persona) -> None:
    response = sign_in_as(client, persona)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(username=persona.uid)
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, persona.is_staff, persona.is_superuser)
    assert not user.has_usable_password()
    assert client.get("/").context["user"].get_username() == persona.uid


@pytest.mark.parametrize("persona", [p for p in PERSONAS if not p.signs_in], ids=lambda p: p.uid)
def test_denied_persona_sees_the_generic_error(client: Client, persona: Persona) -> None:
    response = sign_in_as(client, persona)
    assert response.status_code == 200
    assert GENERIC_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_inactive_member_is_recorded_inactive() -> None:
    ken = BY_UID["ken"]
    assert authenticate(username=ken.uid, password=ken.password) is not None
    assert User.objects.get(username="ken").is_active is False


def test_outsider_gets_no_django_account() -> None:
    eve = BY_UID["eve"]
    assert authenticate(username=eve.uid, password=eve.password) is None
    assert not User.objects.filter(username="eve").exists()


def test_ldap_groups_are_mirrored_to_django_groups() -> None:
    for persona in (p for p in PERSONAS if p.signs_in):
        user = authenticate(username=persona.uid, password=persona.password)
        assert user is not None
        assert set(user.groups.values_list("name", flat=True)) == persona.groups


def test_permission_on_a_group_named_like_an_ldap_group_applies() -> None:
    staff = Group.objects.create(name="staff")
    staff.permissions.add(Permission.objects.get(codename="view_group"))
    grace = BY_UID["grace"]
    linus = BY_UID["linus"]
    grace_user = authenticate(username=grace.uid, password=grace.password)
    linus_user = authenticate(username=linus.uid, password=linus.password)
    assert grace_user is not None
    assert linus_user is not None
    assert grace_user.has_perm("auth.view_group")
    assert not linus_user.has_perm("auth.view_group")


def test_username_is_case_insensitive_and_trimmed() -> None:
    ada = BY_UID["ada"]
    user = authenticate(username="  ADA ", password=ada.password)
    assert user is not None
    assert user.get_username() == "ada"
