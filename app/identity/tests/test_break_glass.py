"""A local superuser made with createsuperuser signs in while the directory is down."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.test import Client

from devstack.testing import sign_in
from ldap_seed.directory import JumpCloudDirectory

pytestmark = pytest.mark.django_db


def test_local_admin_signs_in_while_directory_is_stopped(
    client: Client, own_directory: JumpCloudDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "break-glass-password-1")
    call_command("createsuperuser", "--noinput", "--username", "breakglass", "--email", "ops@example.com")
    own_directory.halt()

    started = time.monotonic()
    response = sign_in(client, "breakglass", "break-glass-password-1")
    assert response.status_code == 302
    assert time.monotonic() - started < 5
    assert client.get("/").status_code == 200
