"""The Content-Security-Policy headers, django-csp's, built once from settings instead of on every response.

django-csp 4.0 builds each header on every response: the settings' policy copied (``deepcopy``),
turned into a dataclass and back (``asdict``) and joined, for the enforced and the report-only
header alike. That was 0.07 ms of CPU per response here, on pages that cost 0.8-1.2 ms in all
(``bench/README.md``). A response whose view changed nothing (no ``@csp_update``, ``@csp_replace``,
``@csp`` or ``@csp_exempt`` and their report-only twins) and whose request used no nonce gets
headers that depend on the settings alone, so they are built once, by django-csp itself, and kept
until a setting changes. Any other response is django-csp's to answer, unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase

# What django-csp's decorators set on a response (csp.decorators): a header of this response's own.
PER_VIEW_ATTRIBUTES = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace", "exempt") for suffix in ("", "_ro")
)
POLICY_SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's ``CSPMiddleware`` (settings ``CONTENT_SECURITY_POLICY`` and
    ``CONTENT_SECURITY_POLICY_REPORT_ONLY``, django-csp 4.0 docs), answering from headers built
    once where nothing about the response can change them."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if not _settings_alone_decide(request, response):
            return super().process_response(request, response)
        for header, value in _headers_from_settings():
            if header not in response:
                response[header] = value
        # As django-csp does once its header is written: a nonce asked for later is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


def _settings_alone_decide(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Whether this response's headers are the settings' alone: its view changed no policy, its
    request used no nonce, no path is excluded by a setting, and it is not one of the debug pages
    django-csp leaves bare under ``DEBUG``."""
    if getattr(request, "_csp_nonce", None) is not None:
        return False
    if any(hasattr(response, attribute) for attribute in PER_VIEW_ATTRIBUTES):
        return False
    if settings.DEBUG and response.status_code in (404, 500):
        return False
    return not _excludes_paths()


@cache
def _excludes_paths() -> bool:
    return any((getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") for name in POLICY_SETTINGS)


@cache
def _headers_from_settings() -> tuple[tuple[str, str], ...]:
    """(header, value) pairs, as django-csp writes them on a response its views left alone: its own
    ``process_response`` run once on a blank response."""
    probe = HttpRequest()
    probe.path_info = "/"
    blank = CSPMiddleware(lambda request: HttpResponse()).process_response(probe, HttpResponse())
    return tuple((header, blank[header]) for header in (HEADER, HEADER_REPORT_ONLY) if header in blank)


@receiver(setting_changed)
def _forget_headers(*, setting: str, **kwargs: Any) -> None:
    if setting in POLICY_SETTINGS:
        _headers_from_settings.cache_clear()
        _excludes_paths.cache_clear()
