"""The compose stack's osixia/openldap, started through testcontainers with the compose mounts,
gives the same sign-in outcomes as the native runner. Skipped, with the reason, without a Docker
engine. `make test-containers` runs it against podman's API socket with the directory image
built from ldap_seed in osixia's place (LDAP_CONTAINER_OVERRIDE=deploy/compose.ldap-seed.yml),
as no registry answers there.

(``LDAP_TEST_SERVER=container make test`` runs the whole suite against the container instead.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.test import override_settings

from devstack.testing import ldap_settings_for
from ldap_seed.container import OsixiaDirectory, docker_engine_problem
from ldap_seed.personas import PERSONAS

pytestmark = [pytest.mark.containers, pytest.mark.django_db]


@pytest.fixture(scope="module")
def osixia(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsixiaDirectory]:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"{problem}; the native runner reproduces the image's bootstrap instead (test_osixia_bootstrap)")
    directory = OsixiaDirectory(Path(tmp_path_factory.mktemp("osixia")))
    directory.start()
    yield directory
    directory.stop()


def test_personas_get_the_same_outcomes_from_the_container(osixia: OsixiaDirectory) -> None:
    with override_settings(**ldap_settings_for(osixia)):  # type: ignore[arg-type]
        for persona in PERSONAS:
            user = authenticate(username=persona.uid, password=persona.password)
            signed_in = user is not None and user.is_active
            assert signed_in is persona.signs_in, persona.uid
            if user is not None:
                assert set(user.groups.values_list("name", flat=True)) == persona.groups
