from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from identity.views import directory_status

urlpatterns = [
    path("admin/directory-status/", directory_status, name="directory-status"),
    path("admin/", admin.site.urls),
    path("", include("identity.urls")),
]
