"""The circuit breaker's states, on a clock the test moves: closed, open after two unreachable
answers in a row, one probe after the window, closed or open again by the probe's answer."""

from __future__ import annotations

import ldap

from identity.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> CircuitBreaker:
    breaker = CircuitBreaker(lambda: 5.0, clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed(ldap.TIMEOUT())
    return breaker


def test_one_failure_between_answers_does_not_open_it() -> None:
    breaker = CircuitBreaker(lambda: 5.0, Clock())
    breaker.failed(ldap.TIMEOUT())
    breaker.succeeded()
    breaker.failed(ldap.TIMEOUT())
    assert breaker.state == CLOSED
    assert breaker.allow()


def test_an_unreachable_directory_opens_the_circuit_for_the_window() -> None:
    clock = Clock()
    breaker = opened(clock)
    assert breaker.state == OPEN
    clock.now += 4.9
    assert not breaker.allow()


def test_after_the_window_only_one_probe_goes_through() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 5
    assert breaker.allow()
    assert breaker.state == HALF_OPEN
    assert not breaker.allow()  # while the probe is out, the others still fail fast


def test_a_probe_that_gets_an_answer_closes_the_circuit() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 5
    breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED
    assert breaker.allow()


def test_a_probe_that_fails_opens_it_for_another_window() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 5
    breaker.allow()
    breaker.failed(ldap.SERVER_DOWN())
    assert breaker.state == OPEN
    clock.now += 4.9
    assert not breaker.allow()
