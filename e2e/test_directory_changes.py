"""Local target: a change made in the directory shows at the next sign-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import Account
from e2e.pages import HomePage, LoginPage, ProfilePage
from ldap_seed import group_dn, user_dn
from ldap_seed.directory import modify_as_admin


@pytest.fixture
def grace_changed(directory_uri: str, staff: Account) -> Iterator[None]:
    """grace gets a new title and leaves the staff group; both are put back afterwards."""
    dn = user_dn(staff.username)
    modify_as_admin(directory_uri, f"dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Distinguished Engineer\n")
    modify_as_admin(directory_uri, f"dn: {group_dn('staff')}\nchangetype: modify\ndelete: member\nmember: {dn}\n")
    yield
    modify_as_admin(directory_uri, f"dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Staff Engineer\n")
    modify_as_admin(directory_uri, f"dn: {group_dn('staff')}\nchangetype: modify\nadd: member\nmember: {dn}\n")


def test_attribute_and_group_changes_show_at_next_sign_in(page: Page, staff: Account, grace_changed: None) -> None:
    LoginPage(page).open().sign_in(staff.username, staff.password)
    home = HomePage(page)
    home.expect_greeting(staff.username)
    expect(home.flag("staff")).to_have_class("off")
    expect(home.admin_link).to_have_count(0)
    expect(ProfilePage(page).open().value_of("title")).to_have_text("Distinguished Engineer")
