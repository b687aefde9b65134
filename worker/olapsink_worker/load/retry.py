"""Retrying loads: exponential backoff with full jitter, bounded in attempts and in total time.

Only ``RetryableLoadError`` is retried. Every retry of a load re-sends the same label, so a load that
succeeded but whose reply was lost is recognised by the database instead of loaded twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from olapsink_worker.errors import RetryableLoadError

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetriesExhaustedError(RetryableLoadError):
    """The retry budget ran out; ``last`` is the final error. The caller decides whether to stop the sink."""

    def __init__(self, message: str, *, last: RetryableLoadError, attempts: int) -> None:
        super().__init__(message, delay=last.delay)
        self.last = last
        self.attempts = attempts


@dataclass
class RetryPolicy:
    """Backoff schedule: the wait before retry ``n`` (0-based) is ``uniform(0, min(max_delay,
    base_delay * 2**n))`` ("full jitter", so many workers do not retry in lockstep), and never shorter
    than the delay the error itself asks for (e.g. a server's ``Retry-After``), capped at ``max_delay``.

    ``max_retries`` bounds the attempts (``max_retries + 1`` in all; None: no bound, as
    ``spec.errors.maxRetries: -1`` asks); ``max_elapsed`` (seconds, optional) bounds the total time: no
    retry starts after it.
    """

    max_retries: int | None = 10
    base_delay: float = 0.5
    max_delay: float = 6.0
    max_elapsed: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_spec(cls, errors: Any, **overrides: Any) -> RetryPolicy:
        """From ``spec.errors``: ``maxRetries`` attempts after the first, ``retryIntervalMs`` as the
        longest single wait (the connectors wait exactly that long each time; we start shorter)."""
        cap = max(0.0, float(errors.retry_interval_ms) / 1000.0)
        retries = int(errors.max_retries)
        values: dict[str, Any] = {
            "max_retries": None if retries < 0 else retries,
            "base_delay": min(0.5, cap),
            "max_delay": cap,
        }
        values.update(overrides)
        return cls(**values)

    def delay(self, retry: int, error: RetryableLoadError | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        # The exponent is capped: after ~1000 retries (unbounded policies) 2**retry overflows a float.
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(retry, 60)))
        wait = self.rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0
        if error is not None:
            wait = max(wait, min(error.delay, self.max_delay))
        return wait

    def run(self, fn: Callable[[], T], *, describe: str = "load", deadline: float | None = None) -> T:
        """Call ``fn`` until it returns, retrying ``RetryableLoadError`` within the budget.

        ``deadline`` (a ``clock()`` value, e.g. the end of a rebalance's time budget) stops retrying
        earlier than the policy would. Other exceptions pass through at once. When the budget is
        spent, raises ``RetriesExhaustedError`` (a ``RetryableLoadError``) carrying the last error.
        """
        started = self.clock()
        if self.max_elapsed is not None:
            deadline = (
                min(deadline, started + self.max_elapsed)
                if deadline is not None
                else started + self.max_elapsed
            )
        retry = 0
        while True:
            try:
                return fn()
            except RetryableLoadError as error:
                if self.max_retries is not None and retry >= self.max_retries:
                    raise RetriesExhaustedError(
                        f"{describe} failed after {retry + 1} attempts: {error}",
                        last=error,
                        attempts=retry + 1,
                    ) from error
                wait = self.delay(retry, error)
                if deadline is not None and self.clock() + wait > deadline:
                    raise RetriesExhaustedError(
                        f"{describe} failed; no time left to retry after {retry + 1} attempts: {error}",
                        last=error,
                        attempts=retry + 1,
                    ) from error
                log.warning("%s failed (attempt %d), retrying in %.2fs: %s", describe, retry + 1, wait, error)
                self.sleep(wait)
                retry += 1
