"""The profile page shows what the directory holds, non-ASCII included."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import TARGET, Account, seed_attributes
from e2e.pages import LoginPage, ProfilePage


def expect_the_seed_values(profile: ProfilePage, role: str) -> dict[str, str]:
    """The page lists every attribute the seed gives the role's persona, and each attribute it lists
    shows the seed's value, "—" where the seed has none; returns the seed's values for what it lists."""
    seed = seed_attributes(role)
    listed = {attribute: seed.get(attribute, "") for attribute in profile.attributes()}
    assert seed.keys() <= listed.keys(), f"not on the profile page: {sorted(seed.keys() - listed.keys())}"
    for attribute, value in listed.items():
        expect(profile.value_of(attribute)).to_have_text(value or "—")
    return listed


def test_profile_shows_the_directory_attributes(page: Page, member: Account) -> None:
    LoginPage(page).open().sign_in(member.username, member.password)
    profile = ProfilePage(page).open()
    expect(profile.source).to_contain_text(f"uid={member.username},".lower())
    expect(profile.value_of("givenName")).not_to_have_text("—")
    if TARGET != "local":
        return
    listed = expect_the_seed_values(profile, "member")
    assert {"ø", "ö", "Ö"} <= set("".join(listed.values())), "the member persona shows non-ASCII values"


def test_empty_attributes_show_as_empty(page: Page, staff: Account) -> None:
    if TARGET != "local":
        pytest.skip("which attributes a JumpCloud account lacks is known only for the local seed")
    LoginPage(page).open().sign_in(staff.username, staff.password)
    profile = ProfilePage(page).open()
    listed = expect_the_seed_values(profile, "staff")
    assert "" in listed.values(), "the staff persona lacks some of the attributes the page lists"
