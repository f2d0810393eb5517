"""What the tests share: the environment that points Django at a directory, and signing in."""

from __future__ import annotations

import os
import time
from typing import Any
from unittest import mock

from config.ldap import auth_ldap_settings
from django.test import Client

from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import Persona


def directory_environment(directory: JumpCloudDirectory, **overrides: str) -> dict[str, str]:
    """The environment a deployment would set to use ``directory`` (as deploy/env/local.env does)."""
    environment = {
        "LDAP_URI": directory.ldap_uri,
        "LDAP_START_TLS": "true",
        "LDAP_CA_CERT_FILE": directory.cafile,
        "LDAP_BASE_DN": USERS_DN,
        "LDAP_BIND_DN": SERVICE_DN,
        "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
        "LDAP_TIMEOUT": "3",
    }
    environment.update(overrides)
    return environment


def ldap_settings_for(directory: JumpCloudDirectory, **overrides: str) -> dict[str, Any]:
    with mock.patch.dict(os.environ, directory_environment(directory, **overrides)):
        return auth_ldap_settings()


def sign_in(client: Client, username: str, password: str, **extra: str) -> Any:
    """Post the login form the way a browser does."""
    return client.post("/login/", {"username": username, "password": password, **extra})


def sign_in_as(client: Client, persona: Persona) -> Any:
    return sign_in(client, persona.uid, persona.password)


def wait_out_the_breaker(seconds: float) -> None:
    """After an outage, directory calls fail fast for LDAP_BREAKER_SECONDS (identity.breaker);
    the first call after that is the probe that closes the circuit again."""
    time.sleep(seconds + 0.05)
