"""One client, one address: however its address is written (letter case, zeros, an IPv4-mapped
IPv6 address, an IPv6 zone), the lockout counts its guesses under one spelling, the one django-axes
stores, and nothing written oddly is a 500 (identity.proxy.canonical_ip)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from devstack.testing import sign_in
from identity.proxy import canonical_ip
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
GRACE = BY_UID["grace"]
# Each row: spellings of one address, then the one spelling stored.
SPELLINGS = [
    (["2001:DB8::7", "2001:db8:0:0:0:0:0:7", "2001:0db8::0007"], "2001:db8::7"),
    (["::FFFF:C000:201", "::ffff:192.0.2.1", "192.0.2.1"], "192.0.2.1"),  # an IPv4 client on a dual-stack socket
    (["fe80::1%eth0", "FE80::1%2", "fe80::1"], "fe80::1"),
    (["198.51.100.4"], "198.51.100.4"),
]


@pytest.mark.parametrize(("spellings", "stored"), SPELLINGS)
def test_each_spelling_of_an_address_is_one_address(spellings: list[str], stored: str) -> None:
    assert {canonical_ip(spelling) for spelling in spellings} == {stored}


@pytest.mark.parametrize("garbage", ["", "localhost", "192.000.002.001", "1.2.3.4%eth0", "::g", "2001:db8::7/64"])
def test_what_is_not_an_address_is_no_address(garbage: str) -> None:
    assert canonical_ip(garbage) is None


@pytest.mark.parametrize(("spellings", "stored"), SPELLINGS[:3])
@override_settings(AXES_FAILURE_LIMIT=2, LDAP_MAX_FAILURES_PER_USER=100)
def test_guesses_from_one_address_written_several_ways_share_its_budget(
    spellings: list[str], stored: str, directory: JumpCloudDirectory
) -> None:
    # Found by a reviewer: from "2001:DB8::7", 5 wrong passwords made 5 binds (limit 2), since the
    # lockout read the address as written and django-axes stored it in Django's spelling.
    statuses = [
        sign_in(Client(REMOTE_ADDR=spellings[turn % len(spellings)]), GRACE.uid, "a-wrong-guess").status_code
        for turn in range(4)
    ]
    assert statuses == [200, 429, 429, 429], statuses  # the second failure locks, as django-axes answers it
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(stored, 2)]


def test_a_client_with_no_address_is_answered(client: Client, directory: JumpCloudDirectory) -> None:
    answer = sign_in(Client(REMOTE_ADDR="not-an-address"), GRACE.uid, "a-wrong-guess")
    assert answer.status_code == 200
