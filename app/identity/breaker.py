"""Directory calls that fail fast while the directory is away, and a sign-in that ends on time.

``CircuitBreaker``: after directory calls find the directory unreachable (down, refusing, or
silent past their timeout) twice in a row, further calls from this process fail at once for
``LDAP_BREAKER_SECONDS``; then one call is let through as a probe, and its answer closes the
circuit or opens it for another window. So a frozen directory costs one thread one timeout per
window, instead of every request that needs it holding a server thread for ``LDAP_TIMEOUT``.

``LDAP_CALLS_PER_PROCESS`` (one less than gunicorn's threads): a directory that freezes holds at
most that many of a process's threads, however many sign-ins were on their way to it, so one is
left for the pages that do not need the directory. A call that finds every slot taken waits a
moment, then answers "unavailable" rather than queue.

``deadline``: ``LDAP_TIMEOUT`` bounds a whole sign-in, not each of its operations (connect,
StartTLS, the service account's bind, the search, the person's bind): every operation gets what
is left of one budget.

Both act in ``GuardedLDAPObject``, python-ldap's connection with its one choke point
(``_ldap_call``, through which every libldap call goes) wrapped. The sign-in backend and the
session checks connect through it; ``ldap_sync``, ``ldap_doctor`` and the status page do not
(an operator running them wants the directory's own answer, not the breaker's).

Not pybreaker: its ``CircuitBreaker.call`` runs the guarded call while holding the breaker's one
lock, so a process's threads would take turns at the directory, and a hung call would make the
others queue behind it rather than fail fast (danielfm/pybreaker#3; the pull requests that
removed the lock, #40, #41, #57 and #77, were closed unmerged).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ldap
import ldap.ldapobject
from django.conf import settings

from identity import tls
from identity.directory_settings import current

# python-ldap's answers that mean the directory is away (down, unreachable, or too slow), as
# opposed to one that answered and said no.
UNREACHABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.TIMELIMIT_EXCEEDED, ldap.UNAVAILABLE, ldap.BUSY)
# libldap calls that do not touch the network.
LOCAL_CALLS = frozenset({"set_option", "get_option", "unbind_ext", "abandon_ext", "fileno"})

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """Thread-safe, per process. The lock guards the state only, never a call."""

    # Two in a row: one slow answer on a busy machine is not an outage; a frozen directory times
    # out every call that was on its way at once.
    FAILURES_TO_OPEN = 2

    def __init__(self, open_seconds: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.last_failure = ""

    def allow(self) -> bool:
        """May a call go to the directory now? In the half-open state, only the one probe may."""
        with self._lock:
            if self.state == CLOSED:
                return True
            if self.state == OPEN and self._clock() >= self.opened_at + self._open_seconds():
                self.state = HALF_OPEN
                return True
            return False

    def failing_fast(self) -> bool:
        """Open, and within its window: a call made now would not reach the directory."""
        with self._lock:
            return self.state == OPEN and self._clock() < self.opened_at + self._open_seconds()

    def succeeded(self) -> None:
        with self._lock:
            self.state, self.failures = CLOSED, 0

    def failed(self, error: Exception) -> None:
        fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        with self._lock:
            self.failures += 1
            self.last_failure = f"{type(error).__name__} ({fields.get('info') or fields.get('desc') or ''})"
            if self.state == HALF_OPEN or self.failures >= self.FAILURES_TO_OPEN:
                self.state = OPEN
                self.opened_at = self._clock()

    def reset(self) -> None:
        with self._lock:
            self.state, self.failures, self.opened_at, self.last_failure = CLOSED, 0, 0.0, ""


DIRECTORY = CircuitBreaker(lambda: float(settings.LDAP_BREAKER_SECONDS))
SLOT_WAIT_SECONDS = 0.1
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


_started: dict[object, float] = {}  # the calls holding a slot, and when each began
STUCK_SECONDS = 0.25


def directory_looks_away() -> bool:
    """The breaker is failing fast, or every directory slot is held by a call that is taking too
    long: whoever would wait for the directory now should not."""
    return DIRECTORY.failing_fast() or _calls_look_stuck()


def _calls_look_stuck() -> bool:
    """Every slot is held by a call older than STUCK_SECONDS: the directory has likely frozen, and
    a new call should not spend a thread waiting for a slot before the breaker knows it."""
    with _slots_lock:
        now = time.monotonic()
        return len(_started) >= settings.LDAP_CALLS_PER_PROCESS and all(
            now - began > STUCK_SECONDS for began in _started.values()
        )


def _call_slots() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.LDAP_CALLS_PER_PROCESS)
        return _slots


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("directory_deadline", default=None)


def operation_timeout() -> float:
    """LDAP_TIMEOUT."""
    return float(current().timeout)


@contextmanager
def deadline(seconds: float | None = None) -> Iterator[None]:
    """Every directory operation inside shares one budget (LDAP_TIMEOUT unless given). A deadline
    already running (an outer sign-in) is kept."""
    if _deadline.get() is not None:
        yield
        return
    token = _deadline.set(time.monotonic() + (operation_timeout() if seconds is None else seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left() -> float:
    ends = _deadline.get()
    per_operation = operation_timeout()
    if ends is None:
        return per_operation
    return min(per_operation, ends - time.monotonic())


class GuardedLDAPObject(ldap.ldapobject.SimpleLDAPObject):  # type: ignore[misc]
    def _ldap_call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "__name__", "")
        if name in LOCAL_CALLS:
            return super()._ldap_call(func, *args, **kwargs)
        if not DIRECTORY.allow():
            info = f"circuit open: failing fast since {DIRECTORY.last_failure}"
            raise ldap.SERVER_DOWN({"desc": "Can't contact LDAP server", "info": info})
        left = _time_left()
        if left <= 0:
            raise ldap.TIMEOUT({"desc": "Timed out", "info": f"sign-in deadline of {operation_timeout():g} s passed"})
        # The connect (on the first operation), StartTLS and each result wait get what is left.
        self._l.set_option(ldap.OPT_NETWORK_TIMEOUT, left)
        self._l.set_option(ldap.OPT_TIMEOUT, left)
        if name == "result4" and len(args) >= 3:
            args = (args[0], args[1], left, *args[3:])
        slots = _call_slots()
        if not slots.acquire(timeout=0 if _calls_look_stuck() else min(SLOT_WAIT_SECONDS, left)):
            raise ldap.SERVER_DOWN({"desc": "Can't contact LDAP server", "info": "every directory slot is waiting"})
        call = object()
        with _slots_lock:
            _started[call] = time.monotonic()
        try:
            result = super()._ldap_call(func, *args, **kwargs)
        except UNREACHABLE as error:
            self._name_tls_failure(error, left)
            DIRECTORY.failed(error)
            raise
        except Exception:
            DIRECTORY.succeeded()  # the directory answered, if only to say no
            raise
        finally:
            with _slots_lock:
                del _started[call]
            slots.release()
        DIRECTORY.succeeded()
        return result

    def _name_tls_failure(self, error: ldap.LDAPError, left: float) -> None:
        """A refused certificate is only "(unknown error code)" from libldap: say which refusal."""
        if not isinstance(error, (ldap.CONNECT_ERROR, ldap.SERVER_DOWN)) or not error.args:
            return
        directory = current()
        named = tls.name_tls_failure(
            self._uri, start_tls=directory.start_tls, ca_file=directory.ca_cert_file, timeout=min(1.0, left)
        )
        if named and isinstance(error.args[0], dict):
            error.args[0]["info"] = named


class GuardedLDAPModule:
    """python-ldap as django-auth-ldap uses it (``backend.ldap.initialize``), connecting through
    GuardedLDAPObject."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ldap, name)

    @staticmethod
    def initialize(uri: str, **kwargs: Any) -> GuardedLDAPObject:
        return GuardedLDAPObject(uri, **kwargs)


GUARDED_LDAP = GuardedLDAPModule()
