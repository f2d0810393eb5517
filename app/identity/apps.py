from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity (JumpCloud directory)"

    def ready(self) -> None:
        from django_auth_ldap.backend import ldap_error

        from identity import checks  # noqa: F401 - registers the system checks
        from identity.backends import JumpCloudLDAPBackend, note_directory_error

        ldap_error.connect(note_directory_error, sender=JumpCloudLDAPBackend, dispatch_uid="identity.ldap_error")
