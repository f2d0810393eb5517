"""The profile page shows what the directory holds, non-ASCII included."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import TARGET, Account
from e2e.pages import LoginPage, ProfilePage


def test_profile_shows_the_directory_attributes(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password)
    profile = ProfilePage(page).open()
    expect(profile.source).to_contain_text(f"uid={member.username},".lower())
    expect(profile.value_of("givenName")).not_to_have_text("—")
    if TARGET != "local":
        return
    expected = {
        "sn": "Bjørkström",
        "displayName": "Linus Bjørkström",
        "physicalDeliveryOfficeName": "Göteborg",
        "company": "Öresund Systems AB",
        "departmentNumber": "Produktutveckling",
        "employeeNumber": "E-0003",
        "mobile": "+46 31 123 45 67",
    }
    for attribute, value in expected.items():
        expect(profile.value_of(attribute)).to_have_text(value)


def test_empty_attributes_show_as_empty(page: Page, staff: Account) -> None:
    if TARGET != "local":
        pytest.skip("which attributes a JumpCloud account lacks is known only for the local seed")
    LoginPage(page).open().sign_in(staff.username, staff.password)
    profile = ProfilePage(page).open()
    for attribute in ("initials", "company", "description", "mobile"):
        expect(profile.value_of(attribute)).to_have_text("—")
