from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from identity.accounts import canonical_username
from identity.attributes import ATTRIBUTE_MAP, USER
from identity.models import DirectoryProfile, DirectorySync

SOURCE_NOTE = (
    "These fields come from the JumpCloud directory: change them there. "
    "The next sign-in or ldap_sync overwrites any change made here."
)
# The User fields the directory writes: the mapped attributes, and the flags from groups.
DIRECTORY_USER_FIELDS = (
    *(name for target, name, _ in ATTRIBUTE_MAP if target == USER),
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
)


class DirectoryProfileInline(admin.StackedInline):  # type: ignore[type-arg]
    model = DirectoryProfile
    can_delete = False
    extra = 0
    max_num = 1
    verbose_name_plural = "directory profile"
    fieldsets = (
        (
            None,
            {
                "description": SOURCE_NOTE,
                "fields": [f.name for f in DirectoryProfile._meta.fields if f.name not in ("id", "user")],
            },
        ),
    )
    readonly_fields = [f.name for f in DirectoryProfile._meta.fields if f.name not in ("id", "user")]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FromDirectoryFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("directory", "JumpCloud directory"), ("local", "Local account")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "directory":
            return queryset.filter(directory_profile__isnull=False)
        if self.value() == "local":
            return queryset.filter(directory_profile__isnull=True)
        return queryset


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    inlines = [DirectoryProfileInline]
    list_display = ("username", "display_name", "department", "location", "from_directory", "is_active", "is_staff")
    list_filter = (
        FromDirectoryFilter,
        "is_active",
        "is_staff",
        "is_superuser",
        "directory_profile__department",
        "directory_profile__location",
        "groups",
    )
    search_fields = (
        "username",
        "first_name",
        "last_name",
        "email",
        "directory_profile__display_name",
        "directory_profile__department",
        "directory_profile__location",
    )
    list_select_related = ("directory_profile",)

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """The term as typed, or in the canonical username form (``JOSÉ`` finds ``josé``, whatever
        the database's idea of letter case outside ASCII)."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        canonical = canonical_username(unicodedata.normalize("NFKC", search_term))
        if canonical and canonical != search_term:
            results |= queryset.filter(username__contains=canonical)
        return results, duplicates

    @admin.display(description="display name", ordering="directory_profile__display_name")
    def display_name(self, user: User) -> str:
        return _field(user, "display_name")

    @admin.display(description="department", ordering="directory_profile__department")
    def department(self, user: User) -> str:
        return _field(user, "department")

    @admin.display(description="location", ordering="directory_profile__location")
    def location(self, user: User) -> str:
        return _field(user, "location")

    @admin.display(description="from the directory", boolean=True)
    def from_directory(self, user: User) -> bool:
        return _profile(user) is not None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and _profile(obj) is not None:
            readonly += DIRECTORY_USER_FIELDS
        return readonly

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or _profile(obj) is None:
            return fieldsets
        # Directory users: a note on the fieldsets whose fields the directory owns.
        owned = ("Personal info", "Permissions")
        return [
            (name, {**options, "description": SOURCE_NOTE} if name in owned else options) for name, options in fieldsets
        ]


def _field(user: User, name: str) -> str:
    profile = _profile(user)
    return str(getattr(profile, name)) if profile is not None else ""


def _profile(user: User) -> DirectoryProfile | None:
    try:
        return user.directory_profile
    except DirectoryProfile.DoesNotExist:
        return None


@admin.register(DirectorySync)
class DirectorySyncAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """ldap_sync's runs, read-only: the sync writes them, nobody else."""

    list_display = ("finished_at", "seen", "created", "updated", "deactivated", "unchanged")
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
