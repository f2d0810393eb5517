from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from identity.views import admin_login, directory_status

urlpatterns = [
    path("admin/directory-status/", directory_status, name="directory-status"),
    # One sign-in form: the admin's own would be a second door, unaudited and unlocked.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("", include("identity.urls")),
]
