"""A session's check against the directory, run beside its page rather than in front of it.

The directory half of the check (identity.revalidation.read_entry: a bind and a search) goes to a
small pool of threads per process. The page waits for its answer at most
``LDAP_REVALIDATE_WAIT_SECONDS`` (0.25 s; not at all while the directory looks away), which a
directory that answers normally meets, so the
usual case ends a revoked session at the very request that found it. A directory that is slow or
frozen costs the page no more than that: the page goes on, and an answer that comes later is
still acted on, in the pool thread, by the ``late`` callback (a "no" marks the user inactive, so
the session ends at its next request in whichever process serves it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection

from identity import breaker

log = logging.getLogger(__name__)


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()  # the answer did not come in time

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="session-check")
_in_flight: dict[str, _Check] = {}
_lock = threading.Lock()


class _Check:
    def __init__(self, key: str, late: Callable[[Any], None]) -> None:
        self.key = key
        self.late = late
        self.answered = threading.Event()
        self.answer: Any = None
        self.left_waiting = False  # a page stopped waiting: the answer is acted on by ``late``


def answer(key: str, read: Callable[[], Any], *, late: Callable[[Any], None]) -> Any:
    """``read()``'s answer if it comes within LDAP_REVALIDATE_WAIT_SECONDS, else PENDING. One
    read per key at a time in this process: a second page of the same person waits for the first's."""
    with _lock:
        running = _in_flight.get(key)
        if running is None:
            running = _in_flight[key] = _Check(key, late)
            _pool.submit(_run, running, read)
    # The directory looks away (identity.breaker): the page does not wait at all.
    wait = 0.0 if breaker.directory_looks_away() else settings.LDAP_REVALIDATE_WAIT_SECONDS
    if running.answered.wait(wait):
        return running.answer
    with _lock:
        if running.answered.is_set():
            return running.answer
        running.left_waiting = True
    return PENDING


def _run(running: _Check, read: Callable[[], Any]) -> None:
    try:
        result = read()
    except Exception:
        log.exception("checking %r against the directory failed", running.key)
        result = "the check failed (see the log)"
    with _lock:
        _in_flight.pop(running.key, None)
        running.answer = result
        running.answered.set()
        late = running.left_waiting
    if late:
        try:
            running.late(result)
        except Exception:
            log.exception("acting on the late answer for %r failed", running.key)
        finally:
            connection.close()  # this pool thread's own database connection
