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


class SignInLockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """django-axes' lockout check for web sign-ins. A call without a request (a management command,
    a script) has no client address to lock and is let through to the other backends."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        throttle.refuse_service_account(request, username)
        super().authenticate(request, username, password, **kwargs)
        # While the circuit is open no guess reaches the directory, so none is counted: during an
        # outage sign-ins write nothing. (A sign-in let through as the breaker's probe in the
        # instant its window ends goes uncounted: at most one per process per window.)
        if not breaker.DIRECTORY.failing_fast():
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
