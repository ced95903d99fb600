"""The runbook's readiness probe: connect and SELECT 1, backing off with jitter.

The policy (`backoff_delays`, `wait_until_ready`) is pure: sleeping, the clock and the probe
are injected, so the schedule and the deadline are tested without a server.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provisioning.errors import ReadinessError

if TYPE_CHECKING:
    from provisioning.settings import Settings

log = logging.getLogger(__name__)

NOT_READY = "Postgres not ready, retrying with backoff"
READINESS_TIMEOUT = "Postgres readiness timeout after {ms}ms"
READINESS_FAILED = "Database readiness check failed"
READY = "Postgres is ready"
TIMEOUT_SUGGESTION = (
    "The database did not answer in time: check that it is running "
    "(`inv server.start` for the embedded server), then raise DB_TIMEOUT (e.g. DB_TIMEOUT=600000)."
)
EXHAUSTED_SUGGESTION = (
    "The database kept refusing connections: check that it is running and reachable, "
    "or raise DB_MAX_ATTEMPTS."
)


class ProbeFailed(Exception):
    def __init__(self, message: str, *, retryable: bool, suggestion: str) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.suggestion = suggestion


@dataclass(frozen=True)
class Backoff:
    base_ms: int = 1000
    max_ms: int = 30_000
    jitter: float = 0.3
    max_attempts: int = 60
    timeout_ms: int = 300_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Backoff:
        return cls(
            base_ms=settings.db_backoff_base_ms,
            max_ms=settings.db_backoff_max_ms,
            jitter=settings.db_backoff_jitter,
            max_attempts=settings.db_max_attempts,
            timeout_ms=settings.db_timeout,
        )


def backoff_delays(base_ms: int, max_ms: int, jitter: float, rng: random.Random) -> Iterator[int]:
    """The n-th wait (n from 1): min(base * 2^(n-1), max) plus up to `jitter` of that."""
    for n in itertools.count():
        # Cap the exponent so 2**n never grows past what the cap needs.
        delay = min(max_ms, base_ms * 2 ** min(n, 62))
        yield round(delay + rng.random() * jitter * delay)


@dataclass(frozen=True)
class Readiness:
    attempts: int
    duration_ms: int


def wait_until_ready(
    probe: Callable[[float], None],
    policy: Backoff,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> Readiness:
    """Call `probe(seconds_left)` until it passes; never sleep past the deadline.

    Errors that waiting cannot cure fail at once; the others are retried with backoff.
    """
    started = clock()
    deadline = started + policy.timeout_ms / 1000
    delays = backoff_delays(policy.base_ms, policy.max_ms, policy.jitter, rng or random.Random())
    for attempt, delay_ms in enumerate(delays, start=1):
        try:
            probe(max(0.0, deadline - clock()))
            return Readiness(attempts=attempt, duration_ms=round((clock() - started) * 1000))
        except ProbeFailed as exc:
            fields = {"attempt": attempt, "error": str(exc)}
            if not exc.retryable:
                raise ReadinessError(
                    READINESS_FAILED, suggestion=exc.suggestion, **fields
                ) from None
            if attempt >= policy.max_attempts:
                raise ReadinessError(
                    READINESS_FAILED, suggestion=EXHAUSTED_SUGGESTION, **fields
                ) from None
            remaining_s = deadline - clock()
            if remaining_s <= 0:
                raise ReadinessError(
                    READINESS_TIMEOUT.format(ms=policy.timeout_ms),
                    suggestion=TIMEOUT_SUGGESTION,
                    **fields,
                ) from None
            wait_s = min(delay_ms / 1000, remaining_s)  # exact seconds: rounding could overshoot
            log.warning(NOT_READY, extra={"fields": {**fields, "delayMs": round(wait_s * 1000)}})
            sleep(wait_s)
    raise AssertionError("unreachable: backoff_delays is infinite")


def wait_for_database(settings: Settings) -> Readiness:
    """`inv wait`: probe the configured server until it answers SELECT 1."""
    from provisioning import db

    target = db.describe_target(settings)
    log.info("Checking database readiness", extra={"fields": {"target": target}})

    def probe(seconds_left: float) -> None:
        try:
            with db.connect(settings, timeout_s=min(10.0, max(seconds_left, 2.0))) as conn:
                db.ping(conn)
        except db.ConnectError as exc:
            raise ProbeFailed(
                exc.message, retryable=exc.retryable, suggestion=exc.suggestion
            ) from None
        except ReadinessError:
            raise  # the embedded server failed to start: waiting will not cure it
        except Exception as exc:  # a query-time failure (e.g. the server shutting down)
            message = db.clean_error(exc)
            cause = db.classify(message)
            raise ProbeFailed(message, retryable=True, suggestion=cause.suggestion) from None

    result = wait_until_ready(probe, Backoff.from_settings(settings))
    log.info(
        READY,
        extra={"fields": {"attempts": result.attempts, "durationMs": result.duration_ms}},
    )
    return result
