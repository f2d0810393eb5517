"""Page objects: each page's locators, set once, and what a person does there."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect


class LoginPage:
    path = "/login/"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.username: Locator = page.get_by_label("Username")
        self.password: Locator = page.get_by_label("Password")
        self.remember_me: Locator = page.get_by_label("Remember me")
        self.submit: Locator = page.get_by_role("button", name="Sign in")
        self.error: Locator = page.get_by_role("alert")

    def open(self, next_path: str | None = None) -> LoginPage:
        self.page.goto(self.path if next_path is None else f"{self.path}?next={next_path}")
        return self

    def sign_in(self, username: str, password: str, *, remember: bool = False) -> None:
        self.username.fill(username)
        self.password.fill(password)
        if remember:
            self.remember_me.check()
        self.submit.click()

    def expect_refused(self) -> None:
        expect(self.page).to_have_url(re.compile(r"/login/"))
        expect(self.error).to_have_text("Sign-in failed. Check your username and password and try again.")


class HomePage:
    path = "/"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.heading: Locator = page.get_by_role("heading", level=1)
        self.signed_in_as: Locator = page.locator("p.muted").first
        self.access: Locator = page.get_by_role("list", name="Access")
        self.admin_link: Locator = page.get_by_role("link", name="Admin", exact=True)
        self.sign_out_button: Locator = page.get_by_role("button", name="Sign out")

    def open(self) -> HomePage:
        self.page.goto(self.path)
        return self

    def flag(self, name: str) -> Locator:
        return self.access.get_by_text(name, exact=True)

    def expect_greeting(self, username: str, display_name: str | None = None) -> None:
        expect(self.heading).to_have_text(re.compile(r"^Welcome, .+"))
        if display_name:
            expect(self.heading).to_have_text(f"Welcome, {display_name}")
        expect(self.signed_in_as).to_contain_text(f"Signed in as {username}")

    def sign_out(self) -> None:
        self.sign_out_button.click()


class ProfilePage:
    path = "/profile/"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.table: Locator = page.locator("table.attributes")
        self.source: Locator = page.locator("p.muted").first

    def open(self) -> ProfilePage:
        self.page.goto(self.path)
        return self

    def value_of(self, ldap_attribute: str) -> Locator:
        return self.table.locator(f'tr[data-field="{ldap_attribute}"] td').first

    def attributes(self) -> list[str]:
        """The LDAP attributes the page lists, in its order."""
        rows = self.table.locator("tr[data-field]")
        expect(rows.first).to_be_attached()
        return [row.get_attribute("data-field") or "" for row in rows.all()]


class AdminPage:
    path = "/admin/"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.site_heading: Locator = page.locator("#site-name")
        self.results: Locator = page.locator("#result_list")

    def open(self, path: str = "") -> AdminPage:
        self.page.goto(self.path + path)
        return self

    def open_users(self) -> AdminPage:
        return self.open("auth/user/")

    def open_groups(self) -> AdminPage:
        return self.open("auth/group/")
