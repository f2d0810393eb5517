from __future__ import annotations

from django.contrib import admin

from identity.models import DirectoryProfile, DirectorySync


@admin.register(DirectoryProfile)
class DirectoryProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "display_name", "department", "location", "synced_at")
    search_fields = ("user__username", "display_name", "department", "location")
    readonly_fields = [field.name for field in DirectoryProfile._meta.fields]


@admin.register(DirectorySync)
class DirectorySyncAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """ldap_sync's runs, read-only: the sync writes them, nobody else."""

    list_display = ("finished_at", "seen", "created", "updated", "deactivated", "unchanged")
    readonly_fields = list_display

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
