"""Production settings: safe defaults, loud failures, and `check --deploy` clean with the staging example."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client, override_settings
from dotenv import dotenv_values

from ldap_seed.container import REPO_DIR

EXAMPLE = {name: value or "" for name, value in dotenv_values(REPO_DIR / "deploy/env/jumpcloud.env.example").items()}


def manage(*args: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "LDAP_", "DATABASE_"))
    }
    return subprocess.run(
        [sys.executable, str(REPO_DIR / "app/manage.py"), *args],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_is_clean_with_the_staging_example() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", environment=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_secret_key_is_required_outside_development() -> None:
    environment = {**EXAMPLE, "DJANGO_SECRET_KEY": ""}
    result = manage("check", environment=environment)
    assert result.returncode != 0
    assert "Set the environment variable DJANGO_SECRET_KEY." in result.stderr


def test_secret_key_has_a_development_default_only_with_debug() -> None:
    result = manage("check", environment={**EXAMPLE, "DJANGO_SECRET_KEY": "", "DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_debug_is_off_unless_set() -> None:
    environment = {name: value for name, value in EXAMPLE.items() if name != "DJANGO_DEBUG"}
    result = manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", environment=environment)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_a_bad_directory_setting_stops_migrate_with_the_fix(tmp_path: object) -> None:
    environment = {**EXAMPLE, "LDAP_BIND_PASSWORD": "", "DATABASE_URL": "sqlite:///:memory:"}
    result = manage("migrate", environment=environment)
    assert result.returncode != 0
    assert "identity.E003" in result.stderr
    assert "LDAP_BIND_PASSWORD is empty" in result.stderr


def test_every_page_carries_a_strict_content_security_policy(client: Client) -> None:
    policy = client.get("/login/")["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
def test_https_redirects_pages_but_not_the_health_check(client: Client) -> None:
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/login/")["Location"] == "https://testserver/login/"
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_health_check_answers_a_probe_by_address_with_a_real_allowed_hosts(client: Client) -> None:
    with override_settings(ALLOWED_HOSTS=["django-staging.example.com"]):
        assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
        assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400


@pytest.mark.django_db
def test_tests_run_on_the_database_named_by_database_url() -> None:
    from django.db import connection

    url = os.environ.get("DATABASE_URL", "sqlite://")
    assert connection.vendor == ("postgresql" if url.startswith("postgres") else "sqlite")


def test_a_configuration_error_is_said_plainly_by_manage_py() -> None:
    result = manage("migrate", environment={**EXAMPLE, "LDAP_TIMEOUT": "soon"})
    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: LDAP_TIMEOUT must be a whole number, not 'soon'."
