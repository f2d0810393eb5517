"""Copying a person's JumpCloud attributes into Django: one table, applied in one place.

``ATTRIBUTE_MAP`` says which LDAP attribute fills which field, on ``User`` or on
``DirectoryProfile``. ``copy_directory_attributes`` runs on django-auth-ldap's ``populate_user``
signal, at every sign-in (``AUTH_LDAP_ALWAYS_UPDATE_USER``): an attribute that is gone from the
directory empties its field. ``userPassword`` is not in the table, and is never fetched.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from identity.models import DirectoryProfile

USER = "user"
PROFILE = "profile"

ATTRIBUTE_MAP: tuple[tuple[str, str, str], ...] = (
    (USER, "first_name", "givenName"),
    (USER, "last_name", "sn"),
    (USER, "email", "mail"),
    (PROFILE, "middle_name", "initials"),
    (PROFILE, "display_name", "displayName"),
    (PROFILE, "title", "title"),
    (PROFILE, "department", "departmentNumber"),
    (PROFILE, "cost_center", "businessCategory"),
    (PROFILE, "location", "physicalDeliveryOfficeName"),
    (PROFILE, "employee_id", "employeeNumber"),
    (PROFILE, "employee_type", "employeeType"),
    (PROFILE, "company", "company"),
    (PROFILE, "description", "description"),
    (PROFILE, "phone", "mobile"),
)


def _first_value(attrs: Any, attribute: str, field: models.Field[Any, Any]) -> str:
    """The attribute's first value, or "" when the entry has none; cut to what the column holds."""
    values = attrs.get(attribute) or [""]  # attrs is case-insensitive (python-ldap's cidict)
    value = str(values[0])
    return value[: field.max_length] if field.max_length else value


def copy_directory_attributes(sender: type, user: User, ldap_user: Any, **kwargs: Any) -> None:
    attrs = ldap_user.attrs
    profile_values: dict[str, Any] = {"dn": ldap_user.dn, "synced_at": timezone.now()}
    for target, field_name, attribute in ATTRIBUTE_MAP:
        model = User if target == USER else DirectoryProfile
        value = _first_value(attrs, attribute, model._meta.get_field(field_name))  # type: ignore[arg-type]
        if target == USER:
            setattr(user, field_name, value)
        else:
            profile_values[field_name] = value
    if user.pk is None:
        user.save()  # the profile row needs the user's key; django-auth-ldap saves again after
    DirectoryProfile.objects.update_or_create(user=user, defaults=profile_values)
