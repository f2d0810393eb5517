"""``{% page_url 'name' %}``: the path of a view that takes no arguments, as ``{% url 'name' %}``
gives it, reversed once per URLconf and script prefix instead of on every render.

Django's ``{% url %}`` calls ``reverse()`` on each render: 12-20 µs each, measured here, and a
signed-in page's header has four of them, 0.1 ms of a page that costs about 1 ms (``bench/README.md``).
For a name without arguments the answer depends only on the URLconf, the script prefix
(``SCRIPT_NAME``, or ``FORCE_SCRIPT_NAME``) and the name, so it is kept by those. This project's URL
patterns are not translated (no ``i18n_patterns``), so the active language is not part of it.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@register.simple_tag
def page_url(name: str) -> str:
    """The path of the URL pattern called ``name`` (``"home"``, ``"admin:index"``), with the script
    prefix. Raises ``django.urls.NoReverseMatch`` as ``{% url %}`` does for an unknown name or one
    whose pattern needs arguments. Escaped like any template variable."""
    return _reversed(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), name)


@lru_cache(maxsize=256)
def _reversed(urlconf: str, script_prefix: str, name: str) -> str:
    # reverse() reads the script prefix of this thread, which is the one in the key.
    return reverse(name, urlconf=urlconf)
