"""The local directory, shaped like JumpCloud's hosted LDAP.

Vocabulary used across this package (as in django-auth-ldap): a name ending in ``_dn`` is a
distinguished name, ``_uri`` an LDAP URL, ``_dir`` a folder on disk.

The seed is written once, in osixia/openldap's custom-bootstrap format (``schema/`` and
``ldif/``), so the compose stack mounts these folders as they are and the native runner
(``directory.py``) loads exactly the same files.
"""

from __future__ import annotations

from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = SEED_DIR / "schema"
LDIF_DIR = SEED_DIR / "ldif"

# osixia/openldap derives the database suffix from LDAP_DOMAIN=jumpcloud.com.
DOMAIN = "jumpcloud.com"
DOMAIN_DN = "dc=jumpcloud,dc=com"
ORG_ID = "5f0c1a2b3c4d5e6f7a8b9c0d"
ORG_DN = f"o={ORG_ID},{DOMAIN_DN}"
USERS_DN = f"ou=Users,{ORG_DN}"

ADMIN_DN = f"cn=admin,{DOMAIN_DN}"
ADMIN_PASSWORD = "admin-demo-pass"  # public: the local demo directory's root password

SERVICE_UID = "svc-django"
SERVICE_DN = f"uid={SERVICE_UID},{USERS_DN}"
SERVICE_PASSWORD = f"{SERVICE_UID}-demo-pass"

# The seed's groups, with their descriptions in the seed, in the order it writes them. The app's
# default group settings (LDAP_REQUIRE_GROUP, LDAP_ACTIVE_GROUP, ...) name the same four.
APP_GROUP, ACTIVE_GROUP, STAFF_GROUP, SUPERUSER_GROUP = "Django App", "active", "staff", "superuser"
GROUPS = {
    APP_GROUP: "Members may sign in to the Django app",
    ACTIVE_GROUP: "Django is_active",
    STAFF_GROUP: "Django is_staff",
    SUPERUSER_GROUP: "Django is_superuser",
}


def user_dn(uid: str) -> str:
    return f"uid={uid},{USERS_DN}"


def group_dn(name: str) -> str:
    return f"cn={name},{USERS_DN}"
