"""ldap_sync over 10,000 generated users: everyone provisioned as generated, and a second run changes nothing.
(How long it takes is measured by `make bench`, not asserted here.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from devstack.testing import ldap_settings_for
from identity.sync import sync
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.generate import users
from ldap_seed.personas import PERSONAS

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
COUNT = 10_000


@pytest.fixture(scope="module")
def big_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JumpCloudDirectory]:
    server = JumpCloudDirectory(Path(tmp_path_factory.mktemp("big")) / "ldap", ephemeral=True, durable=False)
    server.start()
    server.load_generated(COUNT)
    with override_settings(**ldap_settings_for(server)):
        yield server
    server.stop()


def test_ten_thousand_users_sync_and_resync_without_change(big_directory: JumpCloudDirectory) -> None:
    generated = users(COUNT)
    members = [u for u in generated if "Django App" in u.groups]
    seed_members = [p for p in PERSONAS if "Django App" in p.groups]

    first = sync()
    assert first.created == len(members) + len(seed_members)
    assert first.seen == COUNT + len(PERSONAS) + 1  # and the service account
    User = get_user_model()
    # The seed's active members (ldap_sync reads the directory; it does not bind as each person).
    seed_active = sum(1 for p in seed_members if "active" in p.groups)
    assert User.objects.filter(is_active=True).count() == sum(1 for u in members if "active" in u.groups) + seed_active
    assert User.objects.filter(is_staff=True, username__startswith="user").count() == sum(
        1 for u in members if "staff" in u.groups
    )
    sample = User.objects.get(username="user000050")
    assert set(sample.groups.values_list("name", flat=True)) == set(generated[50].groups)
    assert sample.directory_profile.location == "Office 6"

    second = sync()
    assert (second.created, second.updated, second.deactivated) == (0, 0, 0)
    assert second.unchanged == first.created
