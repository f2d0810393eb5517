"""Pages of a signed-in person are sent with ``Cache-Control: private, no-store``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class SignedInNoStoreMiddleware:
    """A page shown to someone signed in is theirs alone: no shared cache keeps it, and no cache
    at all stores it (a browser's back button after sign-out, a proxy between offices)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
