"""django-python3-ldap, the peer `make bench` measures ldap_sync against, on the same directory.

The app's own settings plus django-python3-ldap's: its ``ldap_sync_users`` reads every
inetOrgPerson under the base DN and keeps name and mail (no flags, groups or profile).
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_python3_ldap"]
LDAP_AUTH_URL = [os.environ["LDAP_URI"]]
LDAP_AUTH_USE_TLS = False
LDAP_AUTH_SEARCH_BASE = os.environ["LDAP_BASE_DN"]
LDAP_AUTH_OBJECT_CLASS = "inetOrgPerson"
LDAP_AUTH_USER_FIELDS = {"username": "uid", "first_name": "givenName", "last_name": "sn", "email": "mail"}
LDAP_AUTH_USER_LOOKUP_FIELDS = ("username",)
LDAP_AUTH_FORMAT_USERNAME = "django_python3_ldap.utils.format_username_openldap"
LDAP_AUTH_CONNECTION_USERNAME = "svc-django"
LDAP_AUTH_CONNECTION_PASSWORD = os.environ["LDAP_BIND_PASSWORD"]
