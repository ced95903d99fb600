"""The readiness policy with an injected clock and sleep: bounds, cap, deadline, fail-fast."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.errors import ExitCode, ReadinessError
from provisioning.readiness import (
    EXHAUSTED_SUGGESTION,
    NOT_READY,
    READINESS_FAILED,
    READINESS_TIMEOUT,
    TIMEOUT_SUGGESTION,
    Backoff,
    ProbeFailed,
    backoff_delays,
    wait_until_ready,
)


class FakeTime:
    """A clock that only moves when slept on (plus an optional cost per probe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("provisioning.readiness")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)


def refused(seconds_left: float) -> None:
    raise ProbeFailed("Connection refused", retryable=True, suggestion="start it")


def test_the_runbook_sequence_without_jitter() -> None:
    delays = list(islice(backoff_delays(1000, 30_000, 0.0, random.Random(1)), 8))
    assert delays == [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]


policies = st.builds(
    lambda base, extra, jitter: (base, base + extra, jitter),
    st.integers(min_value=1, max_value=86_400_000),
    st.integers(min_value=0, max_value=86_400_000),
    st.floats(min_value=0, max_value=1, allow_nan=False),
)


@given(policy=policies, seed=st.integers(), count=st.integers(min_value=1, max_value=80))
def test_property_delays_stay_within_bounds_and_the_cap_is_monotone(
    policy: tuple[int, int, float], seed: int, count: int
) -> None:
    base, cap, jitter = policy
    delays = list(islice(backoff_delays(base, cap, jitter, random.Random(seed)), count))
    caps = [min(base * 2 ** (n - 1), cap) for n in range(1, count + 1)]
    assert caps == sorted(caps)  # the un-jittered schedule never shrinks
    for delay, expected in zip(delays, caps, strict=True):
        assert expected - 1 <= delay <= expected * (1 + jitter) + 1
        assert delay <= cap * (1 + jitter) + 1


@settings(max_examples=200)
@given(
    timeout_ms=st.integers(min_value=1, max_value=600_000),
    base=st.integers(min_value=1, max_value=60_000),
    jitter=st.floats(min_value=0, max_value=1, allow_nan=False),
    attempts=st.integers(min_value=1, max_value=200),
    probe_cost=st.floats(min_value=0, max_value=5),
    seed=st.integers(),
)
def test_property_never_sleeps_past_the_deadline(
    timeout_ms: int, base: int, jitter: float, attempts: int, probe_cost: float, seed: int
) -> None:
    fake = FakeTime()
    start = fake.now
    calls: list[float] = []

    def probe(seconds_left: float) -> None:
        calls.append(seconds_left)
        assert seconds_left >= 0
        fake.now += probe_cost  # connecting takes time too
        refused(seconds_left)

    policy = Backoff(base, max(base, 30_000), jitter, attempts, timeout_ms)
    with pytest.raises(ReadinessError) as caught:
        wait_until_ready(probe, policy, sleep=fake.sleep, clock=fake.clock, rng=random.Random(seed))
    deadline = start + timeout_ms / 1000
    slept_until = start + sum(fake.slept) + probe_cost * (len(calls) - 1)
    assert slept_until <= deadline + 1e-6  # no sleep ever ends past the deadline
    assert len(calls) <= attempts
    assert len(fake.slept) == len(calls) - 1
    err = caught.value
    assert err.exit_code == ExitCode.READINESS == 2
    if err.message == READINESS_FAILED:
        assert len(calls) == attempts and err.suggestion == EXHAUSTED_SUGGESTION
    else:
        assert err.message == READINESS_TIMEOUT.format(ms=timeout_ms)
        assert err.suggestion == TIMEOUT_SUGGESTION


def test_retries_log_the_runbook_line_then_succeed(records: Records) -> None:
    fake = FakeTime()
    failures = iter(["the database system is starting up", "Connection refused"])

    def probe(seconds_left: float) -> None:
        message = next(failures, None)
        if message:
            raise ProbeFailed(message, retryable=True, suggestion="wait")

    result = wait_until_ready(
        probe, Backoff(jitter=0.0), sleep=fake.sleep, clock=fake.clock, rng=random.Random(0)
    )
    assert result.attempts == 3
    assert result.duration_ms == 3000  # 1 s, then 2 s
    assert fake.slept == [1.0, 2.0]
    warns = [r for r in records.records if r.getMessage() == NOT_READY]
    assert [r.levelno for r in warns] == [logging.WARNING] * 2
    fields = [r.fields for r in warns]  # type: ignore[attr-defined]
    assert fields == [
        {"attempt": 1, "delayMs": 1000, "error": "the database system is starting up"},
        {"attempt": 2, "delayMs": 2000, "error": "Connection refused"},
    ]


def test_an_incurable_error_fails_at_once_with_its_own_suggestion(records: Records) -> None:
    fake = FakeTime()

    def probe(seconds_left: float) -> None:
        raise ProbeFailed(
            "password authentication failed for user app",
            retryable=False,
            suggestion="Password authentication failed: check DATABASE_URL.",
        )

    with pytest.raises(ReadinessError) as caught:
        wait_until_ready(probe, Backoff(), sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == []
    assert caught.value.message == READINESS_FAILED
    assert caught.value.suggestion == "Password authentication failed: check DATABASE_URL."
    assert caught.value.fields["attempt"] == 1
    assert not [r for r in records.records if r.getMessage() == NOT_READY]


def test_timeout_message_carries_db_timeout_and_the_last_wait_is_shortened(
    records: Records,
) -> None:
    fake = FakeTime()
    policy = Backoff(base_ms=1000, max_ms=30_000, jitter=0.0, max_attempts=60, timeout_ms=2500)
    with pytest.raises(ReadinessError) as caught:
        wait_until_ready(refused, policy, sleep=fake.sleep, clock=fake.clock)
    assert caught.value.message == "Postgres readiness timeout after 2500ms"
    assert fake.slept == [1.0, 1.5]  # 1 s, then only what is left of the 2.5 s
    assert [r.fields["delayMs"] for r in records.records if r.getMessage() == NOT_READY] == [  # type: ignore[attr-defined]
        1000,
        1500,
    ]


def test_attempts_exhausted(records: Records) -> None:
    fake = FakeTime()
    policy = Backoff(base_ms=10, max_ms=10, jitter=0.0, max_attempts=3)
    with pytest.raises(ReadinessError) as caught:
        wait_until_ready(refused, policy, sleep=fake.sleep, clock=fake.clock)
    assert caught.value.message == "Database readiness check failed"
    assert caught.value.fields == {"attempt": 3, "error": "Connection refused"}
    assert fake.slept == [0.01, 0.01]


def test_the_probe_is_told_how_long_is_left() -> None:
    fake = FakeTime()
    seen: list[float] = []

    def probe(seconds_left: float) -> None:
        seen.append(seconds_left)
        refused(seconds_left)

    policy = Backoff(base_ms=1000, jitter=0.0, timeout_ms=4000)
    with pytest.raises(ReadinessError):
        wait_until_ready(probe, policy, sleep=fake.sleep, clock=fake.clock)
    assert seen == [4.0, 3.0, 1.0, 0.0]  # a last try at the deadline, no sleep after it


@pytest.mark.parametrize(
    ("message", "retryable", "names"),
    [
        ('FATAL: password authentication failed for user "app"', False, "Password"),
        ('FATAL: role "app" does not exist', False, "role"),
        ('FATAL: database "nexus" does not exist', False, "database"),
        ('invalid integer value "abc" for connection option "port"', False, "libpq"),
        ("FATAL: the database system is starting up", True, "starting up"),
        ("FATAL: the database system is shutting down", True, "starting up"),
        ('connection to server at "127.0.0.1", port 1 failed: Connection refused', True, "start"),
        ('could not translate host name "db" to address', True, "resolve"),
    ],
)
def test_connection_failures_are_sorted_into_curable_and_not(
    message: str, retryable: bool, names: str
) -> None:
    from provisioning.db import classify

    cause = classify(message)
    assert cause.retryable is retryable
    assert names in cause.suggestion
