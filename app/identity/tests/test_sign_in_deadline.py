"""LDAP_TIMEOUT bounds a whole sign-in, not each of its operations: against a directory that
answers every operation in well under LDAP_TIMEOUT but is slow overall, the sign-in still ends
within LDAP_TIMEOUT (plus the app's own work) with "the directory cannot be reached"."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from devstack.delay_proxy import DelayProxy
from devstack.testing import ldap_settings_for, sign_in_as
from identity.forms import UNAVAILABLE_ERROR
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
TIMEOUT = 2
# Each answer comes 0.7 s late: every operation is well within TIMEOUT, the sign-in's six or so
# round trips (StartTLS, the TLS handshake, two binds, a search) are not.
ANSWER_DELAY = 0.7


@pytest.fixture
def slow_directory(directory: JumpCloudDirectory) -> Iterator[DelayProxy]:
    address = urllib.parse.urlsplit(directory.ldap_uri)
    with DelayProxy((address.hostname or "127.0.0.1", address.port or 389), to_client=ANSWER_DELAY) as proxy:
        slow_uri = f"ldap://127.0.0.1:{proxy.port}"
        with override_settings(**ldap_settings_for(directory, LDAP_URI=slow_uri, LDAP_TIMEOUT=str(TIMEOUT))):
            yield proxy


def test_a_slow_directory_cannot_stretch_a_sign_in_past_ldap_timeout(
    client: Client, slow_directory: DelayProxy
) -> None:
    started = time.monotonic()
    response = sign_in_as(client, BY_UID["ada"])
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 0.5, f"the sign-in took {elapsed:.2f} s"
    assert UNAVAILABLE_ERROR in response.content.decode()
