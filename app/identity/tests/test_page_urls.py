"""{% page_url %} gives what {% url %} gives, for every URL pattern of the project that takes no
arguments, under any script prefix, URLconf and current instance of an application namespace,
though it reverses each name only once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import Context, RequestContext, Template
from django.test import RequestFactory, override_settings
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, include, path, reverse, set_script_prefix
from hypothesis import given
from hypothesis import strategies as st

# A URLconf of this module's own: another URLconf gets its own answer; an application namespace
# with two instances (as two admin sites would be) answers for the current one.
_shop = ([path("", lambda request: HttpResponse(), name="index")], "shop")
urlpatterns = [
    path("elsewhere/home/", lambda request: HttpResponse(), name="home"),
    path("a/", include(_shop, namespace="shop-a")),
    path("b/", include(_shop, namespace="shop-b")),
]


def _names_without_arguments(resolver: URLResolver, namespace: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _names_without_arguments(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name and not pattern.pattern.regex.groups:
            yield f"{namespace}{pattern.name}"


NAMES = sorted(set(_names_without_arguments(get_resolver())))
PREFIXES = st.sampled_from(["/", "/app/", "/a b/", "/ünïcode/", "/x/y/"])


def test_the_project_has_the_names_the_pages_use() -> None:
    assert {"home", "profile", "logout", "admin:index"} <= set(NAMES)


@given(name=st.sampled_from(NAMES), prefix=PREFIXES)
def test_page_url_is_url_under_any_script_prefix(name: str, prefix: str) -> None:
    set_script_prefix(prefix)
    try:
        expected = Template("{% url name %}").render(Context({"name": name}))
        assert Template("{% load page_urls %}{% page_url name %}").render(Context({"name": name})) == expected
        assert Template("{% load page_urls %}{% page_url name %}").render(Context({"name": name})) == reverse(name)
    finally:
        set_script_prefix("/")


def _page_url(name: str, request: HttpRequest | None = None) -> str:
    context = RequestContext(request, {"name": name}) if request is not None else Context({"name": name})
    return Template("{% load page_urls %}{% page_url name %}").render(context)


def test_another_urlconf_gets_its_own_answer() -> None:
    assert _page_url("home") == "/"
    with override_settings(ROOT_URLCONF=__name__):
        assert _page_url("home") == "/elsewhere/home/"
    assert _page_url("home") == "/"


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(("current_app", "expected"), [("shop-a", "/a/"), ("shop-b", "/b/"), (None, "/b/")])
def test_the_current_instance_of_a_namespace_is_the_one_url_gives(current_app: str | None, expected: str) -> None:
    for _ in range(2):  # the second time from what was kept
        request = RequestFactory().get("/")
        if current_app is not None:
            request.current_app = current_app  # as AdminSite's views set it
        url = Template("{% url 'shop:index' %}").render(RequestContext(request))
        assert url == expected
        assert _page_url("shop:index", request) == url


@pytest.mark.parametrize("name", ["no-such-page", "admin:app_list"])
def test_an_unknown_name_or_one_that_needs_arguments_is_refused_as_url_refuses_it(name: str) -> None:
    with pytest.raises(NoReverseMatch):
        reverse(name)
    with pytest.raises(NoReverseMatch):
        _page_url(name)
