"""A session's check against the directory, run beside its page rather than in front of it.

The check (identity.revalidation.still_allowed: a bind and a search) goes to a small pool of
threads per process. The page waits for its answer at most ``LDAP_REVALIDATE_WAIT_SECONDS`` (0.25 s), which a directory
that answers normally meets, so the usual case ends the session at the very request that found
it revoked. A directory that is slow or frozen costs the page no more than that: the page goes
on, and an answer that comes later is still acted on: "no longer allowed" marks the user inactive
(as ldap_sync would), and the session ends at its next request, in whichever process serves it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from identity import breaker, decisions

log = logging.getLogger(__name__)
PENDING = "pending"
Verdict = bool | str | None  # True, False, None (the directory did not answer), or PENDING

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="session-check")
_in_flight: dict[str, _Check] = {}
_lock = threading.Lock()


class _Check:
    def __init__(self, username: str) -> None:
        self.username = username
        self.answered = threading.Event()
        self.answer: bool | None = None
        self.left_waiting = False  # a page stopped waiting: the answer is acted on here


def verdict(username: str, check: Callable[[str], bool | None]) -> Verdict:
    """``check(username)``'s answer if it comes within LDAP_REVALIDATE_WAIT_SECONDS, else PENDING. One check per
    username at a time in this process: a second page of the same person waits for the first's."""
    with _lock:
        running = _in_flight.get(username)
        if running is None:
            running = _in_flight[username] = _Check(username)
            _pool.submit(_run, running, check)
    if running.answered.wait(settings.LDAP_REVALIDATE_WAIT_SECONDS):
        return running.answer
    with _lock:
        if running.answered.is_set():
            return running.answer
        running.left_waiting = True
    return PENDING


def _run(running: _Check, check: Callable[[str], bool | None]) -> None:
    try:
        with breaker.deadline():
            answer = check(running.username)
    except Exception:
        log.exception("checking %r against the directory failed", running.username)
        answer = None
    with _lock:
        running.answer = answer
        running.answered.set()
        _in_flight.pop(running.username, None)
        late = running.left_waiting
    if late and answer is False:
        _deactivate(running.username)


def _deactivate(username: str) -> None:
    try:
        changed = get_user_model()._default_manager.filter(username=username, is_active=True).update(is_active=False)
        if changed:
            decisions.log(None, "ended", username, decisions.Decision("no longer allowed by the directory"))
    finally:
        connection.close()  # this pool thread's own connection
