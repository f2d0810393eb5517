"""django-axes, told apart from a directory outage: a sign-in that failed because JumpCloud could
not be reached says nothing about the password, so it does not count towards a lockout. The
budgets that hold however many guesses arrive at once are identity.throttle's."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_credentials
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse

from identity import breaker, decisions, throttle

# Set on a sign-in's request whose guess identity.throttle counts: its read checks the lockout.
LOCKOUT_CHECKED_BY_THE_COUNT = "identity_lockout_checked_by_the_count"


class SignInLockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """django-axes' lockout check for web sign-ins. A call without a request (a management command,
    a script) has no client address to lock and is let through to the other backends."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        throttle.refuse_service_account(request, username)
        # While the circuit is open no guess reaches the directory, so none is counted: during an
        # outage sign-ins write nothing. (A sign-in let through as the breaker's probe in the
        # instant its window ends goes uncounted: at most one per process per window.)
        counting = not breaker.DIRECTORY.failing_fast()
        # When it is counted, the count's own read is the lockout check (DirectoryAwareAxesHandler.is_locked);
        # django-axes still answers for its allow and deny lists.
        setattr(request, LOCKOUT_CHECKED_BY_THE_COUNT, counting)
        super().authenticate(request, username, password, **kwargs)
        if counting:
            throttle.count_guess_in_advance(request, get_credentials(username, **kwargs))
        return None


class DirectoryAwareAxesHandler(AxesDatabaseHandler):  # type: ignore[misc]
    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        decision = decisions.recorded(request)
        with throttle.settling(request):
            if decision is not None and (decision.directory_away or decision.refused_before_directory):
                return
            super().user_login_failed(sender, credentials, request, **kwargs)

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        # The same failures of this name and address, over the same cool-off, are read by the
        # guess's count (identity.throttle.count_guess_in_advance) in its serialized step just
        # after, which refuses a spent AXES_FAILURE_LIMIT as locked out: one read instead of two.
        if getattr(request, LOCKOUT_CHECKED_BY_THE_COUNT, False):
            return False
        locked: bool = super().is_locked(request, credentials)
        return locked

    # A successful sign-in: django-axes deletes the expired attempts of everyone and resets this
    # username + address's, three statements and two write transactions. When this attempt's
    # lockout check counted no failure there is nothing to reset; expired attempts are ignored by
    # the count and go at the next failure's clean-up.
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        failures: int = super().get_failures(request, credentials)
        setattr(request, throttle.FAILURES_COUNTED, failures)
        return failures

    def user_logged_in(self, sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
        with throttle.settling(request):
            if getattr(request, throttle.FAILURES_COUNTED, None) == 0:
                return
            super().user_logged_in(sender, request, user, **kwargs)


def locked_out_response(request: HttpRequest, response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """The sign-in page, already saying the attempt was locked out, with 429 Too Many Requests."""
    if response is None:
        return HttpResponse("Too many failed sign-ins. Try again later.", status=429, content_type="text/plain")
    response.status_code = 429
    return response
