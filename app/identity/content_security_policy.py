"""The Content-Security-Policy headers, django-csp's, built once from settings instead of on every response.

django-csp 4.0 builds each header on every response: the policy turned into a dataclass and back
(``asdict``, which copies deeply), each directive copied and joined, for the enforced and the
report-only header alike. That was 0.07 ms of CPU per response here, on pages that cost 0.8-1.2 ms
in all (``bench/README.md``). Where nothing but the settings can change the headers, they are built
once, by django-csp itself, and kept until a policy setting changes:
- the view changed no policy (no ``@csp_update``, ``@csp_replace``, ``@csp`` or ``@csp_exempt``,
  nor their report-only twins) and the request used no nonce;
- the policies hold no lazy value (a ``reverse_lazy`` report-uri differs by script prefix,
  URLconf and language, so it is evaluated for each response, as django-csp does);
- no path is excluded by a setting, the response is not one of the debug pages django-csp leaves
  bare under ``DEBUG``, and no subclass changes ``get_policy_parts``.
Any other response is django-csp's to answer, unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import Promise

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
        headers = None if self._per_response(request, response) else _KEPT.headers()
        if headers is None:
            return super().process_response(request, response)
        for header, value in headers:
            if header not in response:
                response[header] = value
        # As django-csp does once its header is written: a nonce asked for later is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

    def _per_response(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Whether something besides the settings may change this response's headers."""
        return (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, attribute) for attribute in PER_VIEW_ATTRIBUTES)
            or (settings.DEBUG and response.status_code in (404, 500))
            or type(self).get_policy_parts is not CSPMiddleware.get_policy_parts
        )


class _KeptHeaders:
    """The headers of the settings in force, or None where they must be built per response. A
    build that a setting change overtook is not kept (the generation tells)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._headers: tuple[tuple[str, str], ...] | None = None
        self._per_response = False

    def headers(self) -> tuple[tuple[str, str], ...] | None:
        if self._headers is not None or self._per_response:
            return self._headers
        with self._lock:
            generation = self._generation
        per_response = _policies_vary()
        headers = None if per_response else _build()
        with self._lock:
            if self._generation == generation:
                self._headers, self._per_response = headers, per_response
        return headers

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._headers, self._per_response = None, False


_KEPT = _KeptHeaders()


def _policies_vary() -> bool:
    """Whether a policy setting excludes paths or holds a lazy value (either changes by request)."""
    policies = [getattr(settings, name, None) or {} for name in POLICY_SETTINGS]
    return any(policy.get("EXCLUDE_URL_PREFIXES") or _holds_lazy(policy.get("DIRECTIVES", {})) for policy in policies)


def _holds_lazy(value: Any) -> bool:
    if isinstance(value, Promise):
        return True
    if isinstance(value, dict):
        return any(_holds_lazy(item) for item in value.values())
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return any(_holds_lazy(item) for item in value)
    return False


def _build() -> tuple[tuple[str, str], ...]:
    """(header, value) pairs as django-csp writes them on a response its views left alone: its own
    ``process_response`` run on a blank response."""
    probe = HttpRequest()
    probe.path_info = "/"
    blank = CSPMiddleware(lambda request: HttpResponse()).process_response(probe, HttpResponse())
    return tuple((header, blank[header]) for header in (HEADER, HEADER_REPORT_ONLY) if header in blank)


@receiver(setting_changed)
def _forget_headers(*, setting: str, **kwargs: Any) -> None:
    if setting in POLICY_SETTINGS:
        _KEPT.forget()
