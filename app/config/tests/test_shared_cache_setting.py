"""REDIS_URL (or REDIS_URL_FILE) puts the cache in Redis; without it, the cache stays per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack.native import REPO_DIR

BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "test-only",
    "LDAP_URI": "ldap://127.0.0.1:1",
    "PYTHONPATH": str(REPO_DIR / "app"),
}
SHOW_CACHES = "import json; from django.conf import settings; print(json.dumps(settings.CACHES['default']))"


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DJANGO_", "LDAP_"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW_CACHES],
        env={**clean, **BASE_ENV, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_redis_url_selects_the_redis_cache() -> None:
    result = settings_with(REDIS_URL="redis://127.0.0.1:28379/0")
    assert result.returncode == 0, result.stderr
    cache = json.loads(result.stdout)
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:28379/0"


def test_redis_url_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis_url"
    secret.write_text("redis://:a-password@redis:6379/1\n")
    result = settings_with(REDIS_URL_FILE=str(secret))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["LOCATION"] == "redis://:a-password@redis:6379/1"


def test_without_redis_url_the_cache_is_per_process() -> None:
    result = settings_with()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_a_redis_url_of_another_scheme_stops_the_start() -> None:
    result = settings_with(REDIS_URL="http://redis:6379")
    assert result.returncode != 0
    assert "REDIS_URL must start with redis://" in result.stderr
