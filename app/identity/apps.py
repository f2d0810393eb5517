from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity (JumpCloud directory)"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django_auth_ldap.backend import ldap_error

        from identity import checks  # noqa: F401 - registers the system checks
        from identity.accounts import note_last_login
        from identity.backends import JumpCloudLDAPBackend, note_directory_error

        ldap_error.connect(note_directory_error, sender=JumpCloudLDAPBackend, dispatch_uid="identity.ldap_error")
        # Django's update_last_login, replaced by the same write in one statement: under the
        # dispatch_uid django.contrib.auth uses, which connects nothing once it is taken (this app
        # comes first in INSTALLED_APPS) and is let go here should auth's ready() have run first.
        # After django-axes' receivers (connected as axes.signals is imported), as Django's was:
        # the guess is settled before the user's row is written, so on PostgreSQL the lock on the
        # name is taken before the row's, in the order every other path takes them.
        import axes.signals  # noqa: F401

        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(note_last_login, dispatch_uid="update_last_login")
