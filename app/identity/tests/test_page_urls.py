"""{% page_url %} gives what {% url %} gives, for every URL pattern of the project that takes no
arguments, under any script prefix and URLconf, though it reverses each name only once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.http import HttpResponse
from django.template import Context, Template
from django.test import override_settings
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, path, reverse, set_script_prefix
from hypothesis import given
from hypothesis import strategies as st

from identity.templatetags.page_urls import page_url

# A URLconf of this module's own, to show that another URLconf gets its own answer.
urlpatterns = [path("elsewhere/home/", lambda request: HttpResponse(), name="home")]


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
        assert page_url(name) == reverse(name)
    finally:
        set_script_prefix("/")


def test_another_urlconf_gets_its_own_answer() -> None:
    assert page_url("home") == "/"
    with override_settings(ROOT_URLCONF=__name__):
        assert page_url("home") == "/elsewhere/home/"
    assert page_url("home") == "/"


@pytest.mark.parametrize("name", ["no-such-page", "admin:app_list"])
def test_an_unknown_name_or_one_that_needs_arguments_is_refused_as_url_refuses_it(name: str) -> None:
    with pytest.raises(NoReverseMatch):
        reverse(name)
    with pytest.raises(NoReverseMatch):
        page_url(name)
