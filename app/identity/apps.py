from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity (JumpCloud directory)"

    def ready(self) -> None:
        from django_auth_ldap.backend import populate_user

        from identity.backends import JumpCloudLDAPBackend
        from identity.directory import copy_directory_attributes

        populate_user.connect(copy_directory_attributes, sender=JumpCloudLDAPBackend, dispatch_uid="identity.copy")
