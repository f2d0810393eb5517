"""Remember me: unticked, the session cookie ends with the browser; ticked, it lasts SESSION_REMEMBER_DAYS."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from devstack.testing import sign_in
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
LINUS = BY_UID["linus"]


def session_cookie(client: Client, remember: bool) -> object:
    extra = {"remember_me": "on"} if remember else {}
    response = sign_in(client, LINUS.uid, LINUS.password, **extra)
    assert response.status_code == 302
    return response.cookies[settings.SESSION_COOKIE_NAME]


def test_unticked_the_cookie_is_a_browser_session_cookie(client: Client) -> None:
    cookie = session_cookie(client, remember=False)
    assert cookie["max-age"] == ""  # type: ignore[index]
    assert cookie["expires"] == ""  # type: ignore[index]
    assert client.session.get_expire_at_browser_close()


def test_ticked_the_cookie_lasts_the_configured_days(client: Client) -> None:
    cookie = session_cookie(client, remember=True)
    assert int(cookie["max-age"]) == 14 * 24 * 3600  # type: ignore[index]
    assert not client.session.get_expire_at_browser_close()


def test_the_form_offers_the_box(client: Client) -> None:
    html = client.get("/login/").content.decode()
    assert 'type="checkbox" name="remember_me"' in html
    assert "Remember me" in html
