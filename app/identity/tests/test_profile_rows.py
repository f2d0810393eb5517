"""{% attribute_rows %} writes each row exactly as the profile page's {% for %} wrote it, for any text
a directory may hold (markup, quotes, ampersands, non-Latin scripts), escaped as {{ }} escapes it.
Only the whitespace between rows differs from the loop as it was in the page (there, indentation):
the loop below joins its rows by a newline, as the tag does."""

from __future__ import annotations

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from identity.templatetags.profile_rows import attribute_rows

# The loop the tag replaced (identity/profile.html before it), its rows joined by a newline.
LOOP = Template(
    "{% for label, value, attribute in rows %}"
    '<tr data-field="{{ attribute }}"><th scope="row">{{ label }}</th><td>{% if value %}{{ value }}'
    '{% else %}<span class="muted">—</span>{% endif %}</td><td><code>{{ attribute }}</code></td></tr>'
    "{% if not forloop.last %}\n{% endif %}{% endfor %}"
)
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20) | st.sampled_from(
    ['<script>alert("x")</script>', "a & b", "O'Brien", '" onmouseover="x', "Ölund Σ 東京", ""]
)


@given(st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=16))
def test_the_rows_are_the_loops_rows(rows: list[tuple[str, str, str]]) -> None:
    assert attribute_rows(rows) == LOOP.render(Context({"rows": rows}))


def test_markup_in_a_value_is_text() -> None:
    html = attribute_rows([("Job title", '<img src=x onerror="alert(1)">', "title")])
    assert "<img" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
