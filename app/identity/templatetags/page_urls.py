"""``{% page_url 'name' %}``: the path of a view that takes no arguments, as ``{% url 'name' %}``
gives it, reversed once per URLconf, script prefix, current application and language instead of
on every render.

Django's ``{% url %}`` calls ``reverse()`` on each render: 12-20 µs each, measured here, and a
signed-in page's header has four of them, 0.1 ms of a page that costs about 1 ms (``bench/README.md``).
For a name without arguments, ``reverse()``'s answer depends only on the URLconf, the script prefix
(``SCRIPT_NAME``, or ``FORCE_SCRIPT_NAME``), the current instance of an application namespace
(``request.current_app``, else the namespace the request resolved in: what ``{% url %}`` passes),
the active language (translated routes, ``i18n_patterns``) and the name; so it is kept by those.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context: template.Context, name: str) -> str:
    """The path of the URL pattern called ``name`` (``"home"``, ``"admin:index"``), with the script
    prefix, as ``{% url name %}`` writes it. Raises ``django.urls.NoReverseMatch`` as ``{% url %}``
    does, for an unknown name or one whose pattern needs arguments. Escaped like any template
    variable."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed(urlconf, get_script_prefix(), _current_app(context), get_language(), name)


def _current_app(context: template.Context) -> Any:
    # As django.template.defaulttags.URLNode.render finds it.
    request: Any = getattr(context, "request", None)
    try:
        return request.current_app
    except AttributeError:
        try:
            return request.resolver_match.namespace
        except AttributeError:
            return None


@lru_cache(maxsize=256)
def _reversed(urlconf: str, script_prefix: str, current_app: Any, language: str | None, name: str) -> str:
    # reverse() reads this thread's script prefix and active language: the ones in the key.
    return reverse(name, urlconf=urlconf, current_app=current_app)
