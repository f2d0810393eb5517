from __future__ import annotations

from django.contrib import admin

from identity.models import DirectoryProfile


@admin.register(DirectoryProfile)
class DirectoryProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "display_name", "department", "location", "synced_at")
    search_fields = ("user__username", "display_name", "department", "location")
    readonly_fields = [field.name for field in DirectoryProfile._meta.fields]
