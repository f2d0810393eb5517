from __future__ import annotations

import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from identity.directory import ATTRIBUTE_MAP, PROFILE
from identity.forms import SignInForm
from identity.models import DirectoryProfile

log = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm
    template_name = "identity/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    profile = DirectoryProfile.objects.filter(user=request.user).first()
    groups = request.user.groups.order_by("name").values_list("name", flat=True)
    return render(request, "identity/home.html", {"profile": profile, "groups": groups})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    directory_profile = DirectoryProfile.objects.filter(user=request.user).first()
    rows = [
        (_label(target, field_name), _value(request, directory_profile, target, field_name), attribute)
        for target, field_name, attribute in ATTRIBUTE_MAP
    ]
    return render(request, "identity/profile.html", {"rows": rows, "profile": directory_profile})


def _label(target: str, field_name: str) -> str:
    model = DirectoryProfile if target == PROFILE else None
    if model is None:
        return field_name.replace("_", " ").capitalize()
    return str(model._meta.get_field(field_name).verbose_name).capitalize()


def _value(request: HttpRequest, profile: DirectoryProfile | None, target: str, field_name: str) -> str:
    source = profile if target == PROFILE else request.user
    return str(getattr(source, field_name, "") or "") if source is not None else ""


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
