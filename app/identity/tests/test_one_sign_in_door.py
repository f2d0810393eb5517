"""There is one sign-in form: the admin's login page sends people to it, with where they were going,
so every attempt is audited, locked and answered the same way."""

from __future__ import annotations

import pytest
from django.test import Client

from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
ADA = BY_UID["ada"]


def test_the_admin_login_page_redirects_to_the_sign_in_form_with_next(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/auth/user/"


def test_the_admin_sends_anonymous_visitors_to_the_sign_in_form(client: Client) -> None:
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/login/?next=/admin/", 302)
    assert b'name="username"' in response.content


def test_credentials_posted_to_the_admin_login_sign_nobody_in(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    response = client.post("/admin/login/?next=/admin/", {"username": ADA.uid, "password": ADA.password})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/"
    assert "_auth_user_id" not in client.session
    assert not [record for record in caplog.records if record.name == "identity.audit"]


def test_a_member_without_admin_access_is_told_so_without_a_redirect_loop(client: Client) -> None:
    linus = BY_UID["linus"]
    client.post("/login/", {"username": linus.uid, "password": linus.password})
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    page = response.content.decode()
    assert f"You are authenticated as <strong>{linus.uid}</strong>, who may not use the admin." in page
    assert "/admin/login/" not in page, "no form that leads nowhere"


def test_a_signed_in_admin_at_the_admin_login_page_goes_to_the_admin(client: Client) -> None:
    # As Django's own admin login page does for someone who may use the admin already.
    client.post("/login/", {"username": ADA.uid, "password": ADA.password})
    response = client.get("/admin/login/?next=/admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get(response["Location"]).status_code == 200
