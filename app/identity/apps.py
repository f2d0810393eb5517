from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity (JumpCloud directory)"

    def ready(self) -> None:
        from django_auth_ldap.backend import ldap_error, populate_user

        from identity import checks  # noqa: F401 - registers the system checks
        from identity.backends import JumpCloudLDAPBackend, note_directory_error
        from identity.directory import copy_directory_attributes

        populate_user.connect(copy_directory_attributes, sender=JumpCloudLDAPBackend, dispatch_uid="identity.copy")
        ldap_error.connect(note_directory_error, sender=JumpCloudLDAPBackend, dispatch_uid="identity.ldap_error")
