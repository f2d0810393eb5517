"""The User admin: the directory profile inline and read-only, the list with directory columns and filters."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client

from devstack.testing import sign_in_as
from identity.admin import SOURCE_NOTE
from ldap_seed.personas import BY_UID, PERSONAS

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def ada_client(client: Client) -> Client:
    """Signed in as ada (a directory superuser), with every persona and a local admin in Django."""
    for persona in PERSONAS:
        authenticate(username=persona.uid, password=persona.password)
    User.objects.create_superuser("breakglass", "ops@example.com", "break-glass-password-1")
    sign_in_as(client, BY_UID["ada"])
    return client


def test_user_list_shows_directory_columns(ada_client: Client) -> None:
    html = ada_client.get("/admin/auth/user/").content.decode()
    for header in ("Display name", "Department", "Location", "From the directory"):
        assert header in html
    assert "Linus Bjørkström" in html
    assert "Göteborg" in html


@pytest.mark.parametrize(
    ("source", "present", "absent"), [("directory", "linus", "breakglass"), ("local", "breakglass", "linus")]
)
def test_user_list_filters_by_source(ada_client: Client, source: str, present: str, absent: str) -> None:
    html = ada_client.get(f"/admin/auth/user/?source={source}").content.decode()
    assert f">{present}</a>" in html
    assert f">{absent}</a>" not in html


def test_user_list_searches_the_profile(ada_client: Client) -> None:
    html = ada_client.get("/admin/auth/user/?q=Produktutveckling").content.decode()
    assert ">linus</a>" in html
    assert ">grace</a>" not in html


def test_directory_user_page_has_the_profile_inline_read_only(ada_client: Client) -> None:
    linus = User.objects.get(username="linus")
    html = ada_client.get(f"/admin/auth/user/{linus.pk}/change/").content.decode()
    assert SOURCE_NOTE in html
    assert "Öresund Systems AB" in html
    assert not re.search(r'<input[^>]+name="directory_profile-0-display_name"', html)
    assert not re.search(r'<input[^>]+name="first_name"', html)
    assert not re.search(r'<input[^>]+name="is_staff"', html)


def test_local_account_page_stays_editable(ada_client: Client) -> None:
    breakglass = User.objects.get(username="breakglass")
    html = ada_client.get(f"/admin/auth/user/{breakglass.pk}/change/").content.decode()
    assert re.search(r'<input[^>]+name="first_name"', html)
    assert SOURCE_NOTE not in html


@pytest.mark.parametrize("term", ["JOSÉ", "jose\u0301", "José"])
def test_user_list_search_finds_the_canonical_username(ada_client: Client, term: str) -> None:
    User.objects.create_user("josé")  # the canonical form: NFC, case folded
    html = ada_client.get("/admin/auth/user/", {"q": term}).content.decode()
    assert ">josé</a>" in html
    assert ">linus</a>" not in html
