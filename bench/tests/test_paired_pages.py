"""bench.run.paired_page_views loads each page as the kind of visitor it is for: /profile/ signed
in (a 200, not the redirect to the sign-in page) and /login/ anonymous (a 200, not the redirect a
signed-in person gets), the same number of each, on each client's one connection."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from bench.run import STACK_ENV, paired_page_views
from devstack.native import NativeStack

pytestmark = pytest.mark.stack

CLIENTS, VIEWS = 3, 5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    native = NativeStack(tmp_path_factory.mktemp("paired") / "run")
    native.up(extra_env=STACK_ENV)
    yield native
    native.down()


def test_each_page_is_loaded_by_its_kind_of_visitor_as_often_as_the_other(stack: NativeStack) -> None:
    log = stack.run_dir / "app.log"
    before = log.stat().st_size
    signed_in_p50, anonymous_p50 = paired_page_views(stack, CLIENTS, VIEWS)
    assert signed_in_p50 > 0
    assert anonymous_p50 > 0
    # gunicorn writes a request's access line after its answer has reached the client.
    deadline = time.monotonic() + 5
    while True:
        with log.open("rb") as lines:
            lines.seek(before)
            access = re.findall(rb'"(GET|POST) (/\S*) HTTP/1.1" (\d+)', lines.read())
        if len(access) >= CLIENTS * (3 + 2 * VIEWS) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert access.count((b"GET", b"/profile/", b"200")) == CLIENTS * VIEWS
    # Per client: the sign-in's form, the anonymous jar's first view, then its VIEWS.
    assert access.count((b"GET", b"/login/", b"200")) == CLIENTS * (2 + VIEWS)
    assert access.count((b"POST", b"/login/", b"302")) == CLIENTS
    assert len(access) == CLIENTS * (3 + 2 * VIEWS)


def test_a_page_that_does_not_answer_200_stops_the_bench(stack: NativeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # A client whose sign-in did not hold would be sent from /profile/ to the sign-in page.
    monkeypatch.setattr("bench.run.sign_in_linus", lambda browser: None)
    with pytest.raises(SystemExit, match="GET /profile/ answered 302"):
        paired_page_views(stack, 1, 1)
