from __future__ import annotations

from datetime import UTC
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from identity import reads, revalidation, status, throttle
from identity.attributes import ATTRIBUTE_MAP, USER
from identity.forms import SignInForm
from identity.models import DirectoryProfile, DirectorySync


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm
    template_name = "identity/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "local_accounts": settings.AUTH_LOCAL_ACCOUNTS}

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        # The sign-in's writes in one transaction: the guess taken off the in-flight list
        # (identity.throttle), last_login, the new session. On SQLite each transaction takes the
        # database's one write lock, and a writer that finds it taken sleeps (1, 2, 5 ms...): under
        # load, sign-ins spent most of their time waiting for it.
        with throttle.sign_in_transaction(self.request):
            response = super().form_valid(form)
            # Unticked: a browser-session cookie, gone when the browser closes. Ticked: SESSION_COOKIE_AGE.
            self.request.session.set_expiry(None if form.cleaned_data.get("remember_me") else 0)
            revalidation.mark_checked(self.request)
            self.request.session.save()  # SessionMiddleware's save then finds nothing new
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page sends people to the one sign-in form, with where they were going.
    Whatever is posted here is not looked at: the form that audits and locks is the only door.
    Someone signed in with admin access is sent to the admin's index, as Django's own admin login
    page does; someone signed in without it is told so, with no form to post (sending them to the
    sign-in form would send them straight back here; the admin's own form here would be a dead end)."""
    if request.method == "GET" and request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect("admin:index")
        return render(request, "identity/admin_not_allowed.html", status=403)
    return auth_views.redirect_to_login(request.GET.get("next") or "/admin/")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    profile = reads.directory_profile(user)
    groups = user.groups.order_by("name").values_list("name", flat=True)
    return render(request, "identity/home.html", {"profile": profile, "groups": groups})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Every attribute of ATTRIBUTE_MAP, in its order, empty ones included."""
    user = signed_in_user(request)
    directory_profile = reads.directory_profile(user)
    labels = field_labels()
    rows = []
    for target, field_name, attribute in ATTRIBUTE_MAP:
        source = user if target == USER else directory_profile
        rows.append((labels[field_name], getattr(source, field_name, "") or "", attribute))
    # When the values last changed (a sign-in or ldap_sync writes the profile only then), in UTC
    # as the page labels it, whatever the current time zone (TIME_ZONE, or one activated): the
    # date filter would convert to that one, and costs 0.05 ms more per page than strftime.
    synced_at = f"{directory_profile.synced_at.astimezone(UTC):%Y-%m-%d %H:%M}" if directory_profile else ""
    context = {"rows": rows, "profile": directory_profile, "synced_at": synced_at}
    return render(request, "identity/profile.html", context)


@lru_cache(maxsize=1)
def field_labels() -> dict[str, str]:
    """Each User and DirectoryProfile field's label, by field name (the same on every request)."""
    return {
        field.name: str(field.verbose_name).capitalize()
        for field in (*User._meta.fields, *DirectoryProfile._meta.fields)
    }


def signed_in_user(request: HttpRequest) -> User:
    assert isinstance(request.user, User), "behind login_required"
    return request.user


@staff_member_required
def directory_status(request: HttpRequest) -> HttpResponse:
    """Staff only: whether the directory answers, the settings in force, the last sync."""
    context = {
        **admin.site.each_context(request),
        "title": "Directory status",
        "probe": status.probe(),
        "configuration": status.effective_configuration(),
        "last_sync": DirectorySync.objects.order_by("-finished_at").first(),
    }
    return render(request, "admin/identity/directory_status.html", context)
