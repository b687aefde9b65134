"""RetryPolicy: retries only retryable errors, backs off with jitter, and stops within its budget."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.load import RetriesExhaustedError, RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def policy(clock: FakeClock, **kwargs: object) -> RetryPolicy:
    values: dict[str, object] = {"rng": random.Random(7), "sleep": clock.sleep, "clock": clock}
    values.update(kwargs)
    return RetryPolicy(**values)  # type: ignore[arg-type]


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, fn


def test_retryable_errors_are_retried_until_success() -> None:
    clock = FakeClock()
    calls, fn = failing(3, RetryableLoadError("503", delay=0.0))
    assert policy(clock, max_retries=5).run(fn) == "done"  # type: ignore[arg-type]
    assert len(calls) == 4
    assert len(clock.sleeps) == 3


def test_other_errors_pass_through_without_retry() -> None:
    clock = FakeClock()
    calls, fn = failing(1, FatalSinkError("unknown table"))
    with pytest.raises(FatalSinkError):
        policy(clock).run(fn)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert clock.sleeps == []


def test_attempts_are_bounded() -> None:
    clock = FakeClock()
    calls, fn = failing(100, RetryableLoadError("503", delay=0.0))
    with pytest.raises(RetriesExhaustedError) as caught:
        policy(clock, max_retries=3).run(fn)  # type: ignore[arg-type]
    assert len(calls) == 4
    assert caught.value.attempts == 4
    assert isinstance(caught.value.last, RetryableLoadError)


def test_total_time_is_bounded() -> None:
    clock = FakeClock()
    calls, fn = failing(100, RetryableLoadError("503", delay=5.0))
    with pytest.raises(RetriesExhaustedError):
        policy(clock, max_retries=100, max_delay=5.0, max_elapsed=12.0).run(fn)  # type: ignore[arg-type]
    assert clock.now <= 12.0
    assert len(calls) == 3


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    retry_policy = RetryPolicy(base_delay=0.5, max_delay=4.0, rng=rng)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        samples = [retry_policy.delay(retry) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a fixed wait
        assert min(samples) < ceiling * 0.2


def test_server_hint_sets_a_floor_but_never_beyond_the_cap() -> None:
    retry_policy = RetryPolicy(base_delay=0.1, max_delay=3.0, rng=random.Random(2))
    assert retry_policy.delay(0, RetryableLoadError("x", delay=2.0)) >= 2.0
    assert retry_policy.delay(0, RetryableLoadError("x", delay=60.0)) == 3.0


def test_from_spec_uses_max_retries_and_interval_as_cap() -> None:
    errors = SimpleNamespace(max_retries=4, retry_interval_ms=6000)
    retry_policy = RetryPolicy.from_spec(errors)
    assert retry_policy.max_retries == 4
    assert retry_policy.max_delay == 6.0
    zero = RetryPolicy.from_spec(SimpleNamespace(max_retries=2, retry_interval_ms=0))
    assert zero.delay(5) == 0.0


def test_a_caller_deadline_stops_retries_early() -> None:
    clock = FakeClock()
    calls, fn = failing(100, RetryableLoadError("503", delay=1.0))
    with pytest.raises(RetriesExhaustedError, match="no time left"):
        policy(clock, max_retries=100, max_delay=1.0).run(fn, deadline=2.5)  # type: ignore[arg-type]
    assert clock.now <= 2.5
    assert len(calls) == 3


def test_max_retries_minus_one_retries_without_a_bound() -> None:
    # spec.errors.maxRetries -1 (StarRocks sink.maxretries=-1) means "forever", not "never".
    clock = FakeClock()
    retry_policy = RetryPolicy.from_spec(
        SimpleNamespace(max_retries=-1, retry_interval_ms=10), sleep=clock.sleep, clock=clock
    )
    calls, fn = failing(2000, RetryableLoadError("503", delay=0.0))
    assert retry_policy.run(fn) == "done"  # type: ignore[arg-type]
    assert len(calls) == 2001
    assert max(clock.sleeps) <= 0.01
