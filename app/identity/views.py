from __future__ import annotations

import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from identity.directory import ATTRIBUTE_MAP, USER
from identity.forms import SignInForm
from identity.models import DirectoryProfile

log = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm
    template_name = "identity/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    profile = DirectoryProfile.objects.filter(user=user).first()
    groups = user.groups.order_by("name").values_list("name", flat=True)
    return render(request, "identity/home.html", {"profile": profile, "groups": groups})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Every attribute of ATTRIBUTE_MAP, in its order, empty ones included."""
    user = signed_in_user(request)
    directory_profile = DirectoryProfile.objects.filter(user=user).first()
    labels = {
        field.name: str(field.verbose_name).capitalize()
        for field in (*User._meta.fields, *DirectoryProfile._meta.fields)
    }
    rows = []
    for target, field_name, attribute in ATTRIBUTE_MAP:
        source = user if target == USER else directory_profile
        rows.append((labels[field_name], getattr(source, field_name, "") or "", attribute))
    return render(request, "identity/profile.html", {"rows": rows, "profile": directory_profile})


def signed_in_user(request: HttpRequest) -> User:
    assert isinstance(request.user, User), "behind login_required"
    return request.user


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process and its database answer; 503 when the database does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        log.error("health check: database unavailable: %s", error)
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
