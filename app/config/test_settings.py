"""Settings for the test suite: the real settings, with test-only shortcuts.

The LDAP values below only let the settings import; the suite's ``directory`` fixture starts a
seeded slapd and points the settings at it.
"""

from __future__ import annotations

import os

for _name, _value in {
    "DJANGO_SECRET_KEY": "test-only-secret-key-not-for-deployment",
    "LDAP_URI": "ldap://127.0.0.1:1",
    "LDAP_BASE_DN": "ou=Users,o=5f0c1a2b3c4d5e6f7a8b9c0d,dc=jumpcloud,dc=com",
    "LDAP_BIND_DN": "uid=svc-django,ou=Users,o=5f0c1a2b3c4d5e6f7a8b9c0d,dc=jumpcloud,dc=com",
    "LDAP_BIND_PASSWORD": "set-by-the-directory-fixture",
    "DATABASE_URL": "sqlite://:memory:",
}.items():
    os.environ.setdefault(_name, _value)

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Session checks against the local slapd answer in milliseconds, but a loaded CI machine may take
# longer: tests of the session check see its answer at the same request, whatever the load
# (test_live_revocation sets the real wait where it tests not waiting).
LDAP_REVALIDATE_WAIT_SECONDS = 10.0
