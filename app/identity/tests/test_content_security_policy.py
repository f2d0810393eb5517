"""identity.content_security_policy answers with django-csp's own headers: for any policy in the
settings (enforced, report-only, or neither), any view decorator of django-csp's, with or without a
nonce, on any status, DEBUG or not, with a lazy value in a policy, and from a subclass that changes
the policy's parts. Its headers are built once, so a changed setting must show, even one that
changes while the headers are being built."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE, NONE, SELF
from csp.decorators import csp, csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse_lazy, set_script_prefix
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import content_security_policy
from identity.content_security_policy import ContentSecurityPolicyMiddleware

SOURCES = st.sampled_from([SELF, NONE, NONCE, "data:", "https://cdn.example", "'unsafe-inline'", "*.example.org"])
DIRECTIVES = st.dictionaries(
    st.sampled_from(["default-src", "script-src", "style-src", "img-src", "form-action", "frame-ancestors"]),
    st.lists(SOURCES, min_size=1, max_size=3, unique=True),
    max_size=4,
)
POLICY = st.none() | st.builds(lambda directives: {"DIRECTIVES": directives}, DIRECTIVES)
DECORATORS: dict[str, Callable[..., Any]] = {
    "none": lambda directives, report_only: lambda view: view,
    "update": lambda directives, report_only: csp_update(directives, REPORT_ONLY=report_only),
    "replace": lambda directives, report_only: csp_replace(directives, REPORT_ONLY=report_only),
    "config": lambda directives, report_only: csp(directives, REPORT_ONLY=report_only),
    "exempt": lambda directives, report_only: csp_exempt(REPORT_ONLY=report_only),
}
NONCE_VALUE = re.compile(r"'nonce-[^']+'")


def _headers(middleware_class: type[CSPMiddleware], view: Callable[[HttpRequest], HttpResponseBase]) -> dict[str, str]:
    response = middleware_class(view)(RequestFactory().get("/somewhere/"))
    assert isinstance(response, HttpResponseBase)
    # A nonce is new on each request: compare where it stands, not its value.
    return {h: NONCE_VALUE.sub("'nonce-N'", response[h]) for h in (HEADER, HEADER_REPORT_ONLY) if h in response}


@settings(max_examples=150, deadline=None)
@given(
    policy=POLICY,
    report_only_policy=POLICY,
    decorator=st.sampled_from(sorted(DECORATORS)),
    decorator_directives=DIRECTIVES,
    decorator_report_only=st.booleans(),
    uses_nonce=st.booleans(),
    status=st.sampled_from([200, 302, 404, 500]),
    debug=st.booleans(),
)
def test_the_headers_are_django_csps(
    policy: dict[str, Any] | None,
    report_only_policy: dict[str, Any] | None,
    decorator: str,
    decorator_directives: dict[str, list[str]],
    decorator_report_only: bool,
    uses_nonce: bool,
    status: int,
    debug: bool,
) -> None:
    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"nonce {request.csp_nonce}" if uses_nonce else "", status=status)  # type: ignore[attr-defined]

    view = DECORATORS[decorator](decorator_directives, decorator_report_only)(page)

    with override_settings(
        CONTENT_SECURITY_POLICY=policy, CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only_policy, DEBUG=debug
    ):
        ours = _headers(ContentSecurityPolicyMiddleware, view)
        assert ours == _headers(CSPMiddleware, view)
        # Asked again, from what was kept: the same.
        assert _headers(ContentSecurityPolicyMiddleware, view) == ours


@override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=None)
def test_a_page_carries_the_settings_policy_and_a_changed_setting_shows(client: Client) -> None:
    header = client.get("/login/")[HEADER]
    assert "default-src 'self'" in header
    assert "frame-ancestors 'none'" in header
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": [NONE]}}):
        assert client.get("/login/")[HEADER] == "default-src 'none'"
    assert client.get("/login/")[HEADER] == header


def test_a_header_the_view_set_itself_stays() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        response[HEADER] = "default-src https://own.example"
        return response

    response = ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/"))
    assert isinstance(response, HttpResponseBase)
    assert response[HEADER] == "default-src https://own.example"


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error() -> None:
    request = RequestFactory().get("/")
    ContentSecurityPolicyMiddleware(lambda request: HttpResponse())(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # type: ignore[attr-defined]


def _page(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def _header(middleware_class: type[CSPMiddleware], prefix: str = "/") -> str:
    set_script_prefix(prefix)  # as WSGIHandler does from each request's SCRIPT_NAME
    try:
        response = middleware_class(_page)(RequestFactory().get("/"))
    finally:
        set_script_prefix("/")
    assert isinstance(response, HttpResponseBase)
    return response[HEADER]


@override_settings(
    CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": [SELF], "report-uri": reverse_lazy("home")}},
    CONTENT_SECURITY_POLICY_REPORT_ONLY=None,
)
@pytest.mark.parametrize("prefixes", [["/", "/app/"], ["/app/", "/"]])
def test_a_lazy_value_is_evaluated_for_each_response_as_django_csp_does(prefixes: list[str]) -> None:
    for prefix in prefixes:
        assert _header(ContentSecurityPolicyMiddleware, prefix) == _header(CSPMiddleware, prefix)
        assert f"report-uri {prefix}" in _header(ContentSecurityPolicyMiddleware, prefix)


def test_headers_built_while_a_setting_changes_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    building, release = threading.Event(), threading.Event()
    build = content_security_policy._build

    def slow_build() -> tuple[tuple[str, str], ...]:
        headers = build()
        building.set()
        release.wait(5)
        return headers

    monkeypatch.setattr(content_security_policy, "_build", slow_build)
    old = {"DIRECTIVES": {"default-src": [SELF]}}
    new = {"DIRECTIVES": {"default-src": ["https://new.example"]}}
    with override_settings(CONTENT_SECURITY_POLICY=old, CONTENT_SECURITY_POLICY_REPORT_ONLY=None):
        first = threading.Thread(target=_header, args=(ContentSecurityPolicyMiddleware,))
        first.start()
        assert building.wait(5)
        with override_settings(CONTENT_SECURITY_POLICY=new):
            release.set()
            first.join()
            assert _header(ContentSecurityPolicyMiddleware) == "default-src https://new.example"


class _OwnParts(ContentSecurityPolicyMiddleware):
    """A subclass as django-csp documents them: its own policy parts."""

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False) -> Any:
        parts = super().get_policy_parts(request, response, report_only)
        parts.update = {"img-src": ["https://images.example"]}
        return parts


@override_settings(
    CONTENT_SECURITY_POLICY={"DIRECTIVES": {"img-src": [SELF]}}, CONTENT_SECURITY_POLICY_REPORT_ONLY=None
)
def test_a_subclass_that_changes_the_policy_parts_gets_its_own_header() -> None:
    _header(ContentSecurityPolicyMiddleware)  # the settings' headers kept
    assert "img-src 'self' https://images.example" in _header(_OwnParts)
