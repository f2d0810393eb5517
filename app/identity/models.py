from __future__ import annotations

from django.conf import settings
from django.db import models


class DirectoryProfile(models.Model):
    """What JumpCloud knows about a person beyond the User fields. Written only from the
    directory (identity.accounts), at sign-in, revalidation and sync; a row exists only for
    directory users. ``directory_id`` is the person's stable id (LDAP_USER_ID_ATTRIBUTE): one
    Django user per person for life, whatever their username becomes."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_profile")
    # NULL for rows from before stable ids: NULLs never collide in the unique constraint below.
    directory_id = models.CharField("directory ID", max_length=255, null=True, blank=True)  # noqa: DJ001
    directory_id_attribute = models.CharField(
        "directory ID attribute", max_length=64, blank=True, help_text="LDAP_USER_ID_ATTRIBUTE when the ID was read"
    )
    dn = models.CharField("directory DN", max_length=512)
    middle_name = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    title = models.CharField("job title", max_length=255, blank=True)
    department = models.CharField(max_length=255, blank=True)
    cost_center = models.CharField("cost center", max_length=255, blank=True)
    location = models.CharField(max_length=255, blank=True)
    employee_id = models.CharField("employee ID", max_length=64, blank=True)
    employee_type = models.CharField(max_length=64, blank=True)
    company = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    phone = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField("last read from the directory")

    class Meta:
        verbose_name = "directory profile"
        constraints = [
            models.UniqueConstraint(fields=["directory_id_attribute", "directory_id"], name="one_user_per_directory_id")
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class DirectorySync(models.Model):
    """One completed ``ldap_sync`` run (not a dry run): what it changed."""

    finished_at = models.DateTimeField(auto_now_add=True)
    seen = models.PositiveIntegerField("directory users read")
    created = models.PositiveIntegerField()
    updated = models.PositiveIntegerField()
    deactivated = models.PositiveIntegerField()
    unchanged = models.PositiveIntegerField()
    # Deactivations the mass-deactivation guard (LDAP_SYNC_MAX_DEACTIVATE_PERCENT) refused: a run
    # with any is a refused run, and the status page says so.
    refused_deactivations = models.PositiveIntegerField(default=0)

    class Meta:
        get_latest_by = "finished_at"
        verbose_name = "directory sync"

    def __str__(self) -> str:
        return f"sync at {self.finished_at:%Y-%m-%d %H:%M}"


class GuessInFlight(models.Model):
    """A sign-in on its way to the directory, counted before it gets there (identity.throttle)."""

    username = models.CharField(max_length=255, db_index=True)
    ip_address = models.GenericIPAddressField(null=True)
    started_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "sign-in in flight"

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address} since {self.started_at:%H:%M:%S}"
