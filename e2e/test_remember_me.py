"""Remember me, as the browser holds the session cookie: until it closes, or for SESSION_REMEMBER_DAYS."""

from __future__ import annotations

import os
import time

from playwright.sync_api import Page

from e2e.conftest import Account
from e2e.pages import HomePage, LoginPage

REMEMBER_DAYS = int(os.environ.get("E2E_SESSION_REMEMBER_DAYS", "14"))


def session_cookie(page: Page) -> dict[str, object]:
    [cookie] = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    return dict(cookie)


def test_unticked_the_session_ends_with_the_browser(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password)
    HomePage(page).expect_greeting(member.username)
    assert session_cookie(page)["expires"] == -1  # a browser-session cookie


def test_ticked_the_session_lasts_the_configured_days(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password, remember=True)
    HomePage(page).expect_greeting(member.username)
    expires = float(session_cookie(page)["expires"])  # type: ignore[arg-type]
    assert abs(expires - (time.time() + REMEMBER_DAYS * 86400)) < 3600
