"""Who reaches the Django admin, and what the superuser finds there."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.conftest import Account
from e2e.pages import AdminPage, LoginPage


def test_staff_reach_the_admin(page: Page, staff: Account) -> None:
    LoginPage(page).open().sign_in(staff.username, staff.password)
    admin = AdminPage(page).open()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(admin.site_heading).to_be_visible()


def test_superuser_sees_users_and_the_mirrored_groups(page: Page, superuser: Account, member: Account) -> None:
    # the member signs in once so there is someone besides the superuser in the list
    login = LoginPage(page).open()
    login.sign_in(member.username, member.password)
    page.context.clear_cookies()
    LoginPage(page).open().sign_in(superuser.username, superuser.password)
    admin = AdminPage(page).open_users()
    expect(admin.results).to_contain_text(superuser.username)
    expect(admin.results).to_contain_text(member.username)
    admin.open_groups()
    for group in ("Django App", "active", "staff", "superuser"):
        expect(admin.results.get_by_role("link", name=group, exact=True)).to_be_visible()


def test_member_gets_no_admin(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password)
    AdminPage(page).open()
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(page.get_by_role("heading", name="No admin access")).to_be_visible()
    expect(page.get_by_text(f"You are authenticated as {member.username}")).to_be_visible()
