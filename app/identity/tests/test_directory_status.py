"""The directory status page: staff only, live probe, settings without secrets, last sync."""

from __future__ import annotations

import pytest
from django.test import Client

from devstack.testing import sign_in_as
from identity.sync import sync
from ldap_seed import SERVICE_PASSWORD, group_dn, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID, PERSONAS

pytestmark = pytest.mark.django_db


def test_staff_see_the_directory_answer_and_the_settings(client: Client, directory: JumpCloudDirectory) -> None:
    sign_in_as(client, BY_UID["grace"])
    page = client.get("/admin/directory-status/").content.decode()
    assert "The directory answers: the service account bound and read the base DN in" in page
    assert directory.ldap_uri in page
    assert "set (not shown)" in page
    assert SERVICE_PASSWORD not in page
    assert "No sync has run yet" in page


def test_the_last_sync_is_shown(client: Client, directory: JumpCloudDirectory) -> None:
    sync()
    sign_in_as(client, BY_UID["ada"])
    page = client.get("/admin/directory-status/").content.decode()
    members, read = sum(1 for p in PERSONAS if "Django App" in p.groups), len(PERSONAS) + 1
    assert f"created {members}, updated 0, deactivated 0, unchanged 0 ({read} directory users read)" in page


def test_a_sync_refused_by_the_deactivation_guard_is_shown_as_refused(
    client: Client, own_directory: JumpCloudDirectory
) -> None:
    sync()
    # One of the four members leaves the app group: 25 %, more than the 10 % one run may deactivate.
    linus = user_dn(BY_UID["linus"].uid)
    own_directory.modify(f"dn: {group_dn('Django App')}\nchangetype: modify\ndelete: member\nmember: {linus}\n")
    assert sync().refused_deactivations == 1
    sign_in_as(client, BY_UID["ada"])
    page = client.get("/admin/directory-status/").content.decode()
    assert "refused. It would have deactivated 1 directory users" in page
    assert "ldap_sync --force" in page


def test_an_absent_directory_is_shown_as_such(client: Client, own_directory: JumpCloudDirectory) -> None:
    sign_in_as(client, BY_UID["grace"])
    own_directory.halt()
    page = client.get("/admin/directory-status/").content.decode()
    assert "The directory does not answer" in page
    assert "ldap_doctor" in page


def test_members_are_kept_out(client: Client) -> None:
    sign_in_as(client, BY_UID["linus"])
    response = client.get("/admin/directory-status/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_to_it(client: Client) -> None:
    sign_in_as(client, BY_UID["grace"])
    assert 'href="/admin/directory-status/"' in client.get("/admin/").content.decode()
