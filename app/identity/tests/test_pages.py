"""What each page shows, and who may see it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import Client, override_settings

from devstack.testing import sign_in_as
from identity.models import DirectoryProfile
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/profile/"])
def test_anonymous_is_sent_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_login_page_has_the_form_and_only_local_assets(client: Client) -> None:
    html = client.get("/login/").content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html
    assert re.findall(r'(?:href|src)="(https?:)?//', html) == []
    assert "<script" not in html


def test_stylesheet_is_served_by_the_app(client: Client) -> None:
    html = client.get("/login/").content.decode()
    [href] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    response = client.get(href)
    assert response.status_code == 200
    assert b".card" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_home_greets_by_display_name_and_lists_groups(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    html = client.get("/").content.decode()
    assert "Welcome, Linus Bjørkström" in html
    assert "<li>Django App</li>" in html
    assert "<li>active</li>" in html
    assert "Open the admin" not in html


def test_home_offers_admin_to_staff(client: Client) -> None:
    sign_in_as(client, BY_UID["grace"])
    assert "Open the admin" in client.get("/").content.decode()
    assert client.get("/admin/").status_code == 200


def test_member_gets_no_admin(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_profile_shows_every_attribute(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    html = client.get("/profile/").content.decode()
    for value in (
        "Linus Bjørkström",
        "Göteborg",
        "Öresund Systems AB",
        "Produktutveckling",
        "CC-2001",
        "E-0003",
        "Contractor",
        "+46 31 123 45 67",
        "Developer",
        "linus@example.com",
    ):
        assert value in html, value


def test_profile_marks_empty_fields(client: Client) -> None:
    sign_in_as(client, BY_UID["grace"])
    html = client.get("/profile/").content.decode()
    assert re.search(r'data-field="mobile"><th scope="row">Phone</th><td><span class="muted">—</span>', html)


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_profile_says_when_its_values_last_changed_in_utc_as_it_labels_it(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    synced_at = DirectoryProfile.objects.get(user__username="linus").synced_at
    html = client.get("/profile/").content.decode()
    assert f"these values last changed {synced_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in html


def test_profile_does_not_call_a_time_before_an_unchanged_sign_in_that_sign_in(client: Client) -> None:
    # A sign-in that finds the entry unchanged writes nothing (accounts.save): the time shown is
    # when the values last changed, and the page says so, not "read at your last sign-in".
    sign_in_as(client, BY_UID["linus"])
    DirectoryProfile.objects.filter(user__username="linus").update(synced_at=datetime(2020, 1, 1, tzinfo=UTC))
    client.logout()
    sign_in_as(client, BY_UID["linus"])
    html = client.get("/profile/").content.decode()
    assert "these values last changed 2020-01-01 00:00 UTC" in html
    assert "read at your last sign-in" not in html


def test_sign_out_is_post_only_and_ends_the_session(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/profile/").status_code == 302


def test_next_is_followed_only_within_the_site(client: Client) -> None:
    linus = BY_UID["linus"]
    response = client.post(
        "/login/?next=/profile/", {"username": linus.uid, "password": linus.password, "next": "/profile/"}
    )
    assert response["Location"] == "/profile/"
    client.post("/logout/")
    response = client.post(
        "/login/", {"username": linus.uid, "password": linus.password, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_healthz_answers_with_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "form",
    [
        None,  # the page as first shown
        {"username": "lin<us", "password": "wrong", "remember_me": "on"},  # refused: values kept, escaped
        {"username": "", "password": ""},  # fields missing: marked invalid
    ],
)
def test_login_inputs_are_the_ones_the_form_widgets_render(client: Client, form: dict[str, str] | None) -> None:
    # The template writes the inputs out rather than rendering widget templates (a sign-in's CPU).
    response = client.get("/login/") if form is None else client.post("/login/", form)
    html = response.content.decode()
    bound = response.context["form"]
    for name in ("username", "password", "remember_me"):
        assert str(bound[name]) in html, name


def test_the_sign_in_page_shows_no_template_source(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert "{#" not in page
    assert "{%" not in page
