from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django_auth_ldap.backend import LDAPBackend


class JumpCloudLDAPBackend(LDAPBackend):  # type: ignore[misc]
    """django-auth-ldap's backend, with one change: a sign-in always reads the directory.

    With ``AUTH_LDAP_CACHE_TIMEOUT`` set, django-auth-ldap caches a user's group names, and it
    mirrors groups from that cache at sign-in, so a group removed in JumpCloud would linger in
    Django until the cache expired. Here the cached names are dropped just before the user is
    mirrored; permission checks between sign-ins still use the cache.
    """

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[Any, bool]:
        groups = ldap_user._get_groups()
        cache.delete(groups._cache_key("_group_names"))
        groups._group_names = None
        user_and_built: tuple[Any, bool] = super().get_or_build_user(username, ldap_user)
        return user_and_built
