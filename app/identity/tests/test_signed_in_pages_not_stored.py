"""A page shown to someone signed in is stored by no cache: Cache-Control: private, no-store."""

from __future__ import annotations

import pytest
from django.test import Client

from devstack.testing import sign_in_as
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/profile/", "/admin/", "/admin/directory-status/"])
def test_signed_in_pages_are_private_and_not_stored(client: Client, path: str) -> None:
    sign_in_as(client, BY_UID["ada"])
    response = client.get(path)
    assert response.status_code == 200
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives
