"""Partitions held back while the schema registry is unavailable (docs/formats.md, "Registry outages").

A record whose schema cannot be fetched because the registry is down (``RegistryUnavailableError``) is no
fault of the record, so it is neither dead-lettered nor skipped. The engine pauses its partition and
seeks it back to that record; the engine loop goes on calling ``consume()`` (the group membership and
``max.poll.interval.ms`` are kept), other partitions go on, loads in flight finish and their offsets are
committed. Nothing of the held partition is committed past the record. When the partition's wait is over
it is resumed and the record read again. Waits grow exponentially with jitter; when the registry stays
unavailable for longer than the bound, the sink stops with ``SchemaRegistryUnavailable`` naming the
registry and the record, offsets kept: a restart once the registry is back loses nothing.

Why not wait inside the decoder: a sleeping loop stops heartbeating /healthz, harvesting loads and
committing, and a wait past ``max.poll.interval.ms`` (5 minutes by default) would cost the group
membership and replay everything uncommitted on another worker.

This module only keeps the books (pure, clock passed in); the engine makes the consumer calls.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from olapsink_worker.buffer import TopicPartition
from olapsink_worker.errors import ConfigError, ConfigProblem, FatalSinkError, RegistryUnavailableError
from olapsink_worker.formats.registry import FAIL_FAST_S, REGISTRY_FIELD

log = logging.getLogger("olapsink.registry")

REASON = "SchemaRegistryUnavailable"
BOUND_ENV = "OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT"
#: Longest a partition waits for an unavailable registry before the sink stops (seconds).
DEFAULT_BOUND_S = 300.0
#: The first wait; each next one doubles, up to ``MAX_WAIT_S``.
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


def retry_bound(value: float | None, env: Mapping[str, str] | None = None) -> float:
    """The bound in seconds: ``value`` when given, else ``$OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT``,
    else 300 s. ConfigError naming the variable for what is not a positive number."""
    if value is None:
        text = (os.environ if env is None else env).get(BOUND_ENV)
        if text is None or not text.strip():
            return DEFAULT_BOUND_S
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
    if not value > 0:  # also NaN
        raise ConfigError(ConfigProblem(BOUND_ENV, "must be a positive number of seconds"))
    return float(value)


@dataclass
class Held:
    """One partition's wait: the record it waits at and since when."""

    offset: int
    since: float
    retry_at: float
    attempts: int
    error: RegistryUnavailableError
    #: True while the partition is paused; False once resumed, until its record is read.
    paused: bool = True


class RegistryOutage:
    """Which partitions wait for the registry, until when, and when waiting is over."""

    def __init__(
        self,
        bound: float = DEFAULT_BOUND_S,
        *,
        first_wait: float = FIRST_WAIT_S,
        max_wait: float = MAX_WAIT_S,
        rng: random.Random | None = None,
    ) -> None:
        self.bound = bound
        self.first_wait = first_wait
        self.max_wait = max_wait
        self._rng = rng or random.Random()
        self.partitions: dict[TopicPartition, Held] = {}

    def wait(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (1-based): the doubling step with "equal jitter" (half of it
        fixed, half random), so that workers do not retry in lockstep and no retry comes so early that
        the registry cache's fail-fast window answers it instead of the registry."""
        step = min(self.max_wait, self.first_wait * 2 ** min(attempt - 1, 30))
        return max(FAIL_FAST_S, step / 2 + self._rng.uniform(0.0, step / 2))

    def held(self, tp: TopicPartition) -> bool:
        """True while ``tp`` is paused for the registry: its records in hand are to be dropped (they are
        read again from the held offset)."""
        entry = self.partitions.get(tp)
        return entry is not None and entry.paused

    def failed(self, tp: TopicPartition, offset: int, error: RegistryUnavailableError, now: float) -> Held:
        """The record at ``offset`` of ``tp`` met an unavailable registry: hold the partition back (the
        caller pauses it and seeks to ``offset``). FatalSinkError once the outage outlasts the bound."""
        topic, partition = tp
        entry = self.partitions.get(tp)
        if entry is None or entry.offset != offset:
            entry = Held(offset=offset, since=now, retry_at=now, attempts=0, error=error)
            self.partitions[tp] = entry
        entry.attempts += 1
        entry.error = error
        entry.paused = True
        waited = now - entry.since
        if waited >= self.bound:
            raise FatalSinkError(
                f"{error}; still unavailable after {waited:.0f}s and {entry.attempts} attempts "
                f"({BOUND_ENV}: {self.bound:g}s). Stopped before {topic}[{partition}]@{offset}, which is not "
                f"committed: nothing is lost. Bring the registry back (or fix {REGISTRY_FIELD}.url) and "
                "restart the worker",
                reason=REASON,
            )
        # The last retry comes at the bound, not past it; never inside the registry cache's fail-fast
        # window, where it would fail without asking the registry.
        delay = max(FAIL_FAST_S, min(self.wait(entry.attempts), entry.since + self.bound - now))
        entry.retry_at = now + delay
        log.warning(
            "%s: %s[%d] waits %.1fs before reading offset %d again (attempt %d, %.0fs of %gs)",
            error,
            topic,
            partition,
            delay,
            offset,
            entry.attempts,
            waited,
            self.bound,
        )
        return entry

    def due(self, now: float) -> list[TopicPartition]:
        """Partitions whose wait is over: the caller resumes them (their record is read again)."""
        ready = [tp for tp, e in self.partitions.items() if e.paused and e.retry_at <= now]
        for tp in ready:
            self.partitions[tp].paused = False
        return ready

    def passed(self, tp: TopicPartition, now: float) -> None:
        """``tp``'s records were read again without the registry failing: its wait is over."""
        entry = self.partitions.get(tp)
        if entry is None or entry.paused:
            return
        del self.partitions[tp]
        log.info(
            "schema registry %s answers again: %s[%d] goes on from offset %d after %.1fs and %d attempts",
            entry.error.url,
            tp[0],
            tp[1],
            entry.offset,
            now - entry.since,
            entry.attempts,
        )

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Revoked or lost partitions: the next owner reads them from the committed offset."""
        for tp in tps:
            self.partitions.pop(tp, None)

    def reason(self, now: float) -> str | None:
        """Why the worker is not ready, while some partition waits for the registry (else None)."""
        if not self.partitions:
            return None
        tp, entry = min(self.partitions.items(), key=lambda item: item[1].since)
        return (
            f"waiting for the schema registry {entry.error.url}: {len(self.partitions)} partition(s) held "
            f"back, {tp[0]}[{tp[1]}] at offset {entry.offset} for {now - entry.since:.0f}s "
            f"({entry.attempts} attempts, stops after {self.bound:g}s)"
        )
