"""The count of a guess as it starts (identity.throttle.count_guess_in_advance) decides as its rule
says, whatever the mix of failures and guesses in flight: a guess goes on only while
failures + guesses in flight of the name from this address < AXES_FAILURE_LIMIT and, from all
addresses, < LDAP_MAX_FAILURES_PER_USER; failures older than the cool-off and guesses older than
STALE do not count. The rule is checked twice, by the read that refuses without writing and by
the INSERT that notes the guess (for guesses that got in between): both are tried here, the
second by a read that saw nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.test import RequestFactory, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity import decisions, throttle
from identity.models import GuessInFlight

pytestmark = pytest.mark.django_db
NAME = "grace"
ADDRESSES = ["198.51.100.7", "2001:db8::7", None]  # an IPv4, an IPv6, and no address at all
ELSEWHERE = "203.0.113.9"


def attempt(address: str | None, failures: int, age: timedelta) -> None:
    row = AccessAttempt.objects.create(
        username=NAME,
        ip_address=address,
        user_agent=f"test, {age}",  # django-axes keeps one row per name, address and user agent
        get_data="",
        post_data="",
        http_accept="",
        path_info="/login/",
        failures_since_start=failures,
    )
    AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - age)


def in_flight(address: str | None, count: int, age: timedelta = timedelta(0)) -> None:
    for _ in range(count):
        GuessInFlight.objects.create(username=NAME, ip_address=address, started_at=timezone.now() - age)


def expected(pair_failures: int, pair_in_flight: int, name_failures: int, name_in_flight: int) -> str | None:
    """The rule, written plainly: None (the guess goes on) or the reason it is refused."""
    pair_limit, name_limit = django_settings.AXES_FAILURE_LIMIT, django_settings.LDAP_MAX_FAILURES_PER_USER
    if pair_failures + pair_in_flight >= pair_limit:
        return decisions.LOCKED_OUT if pair_failures >= pair_limit else decisions.TOO_MANY_AT_ONCE
    if name_failures + name_in_flight >= name_limit:
        return decisions.USERNAME_LOCKED if name_failures >= name_limit else decisions.TOO_MANY_AT_ONCE
    return None


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    address=st.sampled_from(ADDRESSES),
    pair_failures=st.integers(0, 6),
    other_failures=st.integers(0, 6),
    pair_in_flight=st.integers(0, 4),
    other_in_flight=st.integers(0, 4),
    expired=st.integers(0, 9),
    pair_limit=st.integers(1, 6),
    name_limit=st.integers(1, 9),
    read_saw_nothing=st.booleans(),
)
def test_the_count_decides_by_the_rule(
    monkeypatch: pytest.MonkeyPatch,
    address: str | None,
    pair_failures: int,
    other_failures: int,
    pair_in_flight: int,
    other_in_flight: int,
    expired: int,
    pair_limit: int,
    name_limit: int,
    read_saw_nothing: bool,
) -> None:
    AccessAttempt.objects.all().delete()
    GuessInFlight.objects.all().delete()
    if pair_failures:
        attempt(address, pair_failures, timedelta(minutes=1))
    if other_failures:
        attempt(ELSEWHERE, other_failures, timedelta(minutes=2))
    attempt(address, expired, timedelta(minutes=16))  # past the 15-minute cool-off: never counts
    in_flight(address, pair_in_flight)
    in_flight(ELSEWHERE, other_in_flight)
    in_flight(address, expired, age=throttle.STALE + timedelta(seconds=5))  # a dead process's: never counts
    if read_saw_nothing:  # the guesses got in between the read and the INSERT: the INSERT must refuse
        real_read = throttle._Budgets.read
        reads = iter([throttle._Counts(0, 0, 0, 0)])
        monkeypatch.setattr(throttle._Budgets, "read", lambda self: next(reads, None) or real_read(self))
    request = RequestFactory().post("/login/")
    request.axes_ip_address = address  # type: ignore[attr-defined]
    before = GuessInFlight.objects.count()
    with override_settings(AXES_FAILURE_LIMIT=pair_limit, LDAP_MAX_FAILURES_PER_USER=name_limit):
        want = expected(pair_failures, pair_in_flight, pair_failures + other_failures, pair_in_flight + other_in_flight)
        if want is None:
            throttle.count_guess_in_advance(request, {"username": NAME})
            username, pk = getattr(request, throttle.COUNTED)
            noted = GuessInFlight.objects.get(pk=pk)
            assert (username, noted.username, noted.ip_address) == (NAME, NAME, address)
            assert GuessInFlight.objects.count() == before + 1
        else:
            with pytest.raises(throttle.RefusedBeforeTheDirectory):
                throttle.count_guess_in_advance(request, {"username": NAME})
            decision = decisions.recorded(request)
            assert decision is not None
            assert decision.reason == want
            assert GuessInFlight.objects.count() == before  # a refused guess is not noted
    monkeypatch.undo()
