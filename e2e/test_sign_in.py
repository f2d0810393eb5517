"""Each role's sign-in, as the person sees it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import Account, display_name
from e2e.pages import HomePage, LoginPage


@pytest.mark.parametrize(
    ("role", "staff_flag", "superuser_flag"),
    [("superuser", True, True), ("staff", True, False), ("member", False, False)],
)
def test_allowed_roles_are_greeted_by_name(
    page: Page, request: pytest.FixtureRequest, role: str, staff_flag: bool, superuser_flag: bool
) -> None:
    person: Account = request.getfixturevalue(role)
    LoginPage(page).open().sign_in(person.username, person.password)
    home = HomePage(page)
    expect(page).to_have_url(re.compile(r"/$"))
    home.expect_greeting(person.username, display_name(role))
    expect(home.flag("staff")).to_have_class("on" if staff_flag else "off")
    expect(home.flag("superuser")).to_have_class("on" if superuser_flag else "off")
    if staff_flag:
        expect(home.admin_link).to_be_visible()
    else:
        expect(home.admin_link).to_have_count(0)


@pytest.mark.parametrize("role", ["inactive", "outsider", "locked"])
def test_denied_roles_see_the_generic_error_and_stay_signed_out(
    page: Page, request: pytest.FixtureRequest, role: str
) -> None:
    person: Account = request.getfixturevalue(role)
    login = LoginPage(page).open()
    login.sign_in(person.username, person.password)
    login.expect_refused()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_wrong_password_shows_the_error_and_keeps_the_username(page: Page, member: Account) -> None:
    login = LoginPage(page).open()
    login.sign_in(member.username, member.password + "-wrong")
    login.expect_refused()
    expect(login.username).to_have_value(member.username)
    expect(login.password).to_have_value("")


def test_sign_out_ends_the_session(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password)
    home = HomePage(page)
    home.expect_greeting(member.username)
    home.sign_out()
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/profile/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/profile/$"))


def test_next_returns_to_the_page_asked_for(page: Page, member: Account) -> None:
    page.goto("/profile/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/profile/$"))
    LoginPage(page).sign_in(member.username, member.password)
    expect(page).to_have_url(re.compile(r"/profile/$"))


def test_external_next_is_not_followed(page: Page, member: Account) -> None:
    LoginPage(page).open(next_path="https://evil.example/steal").sign_in(member.username, member.password)
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$|^https://[^/]+/$"))
    HomePage(page).expect_greeting(member.username)
