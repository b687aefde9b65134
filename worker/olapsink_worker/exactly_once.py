"""Exactly-once loads: the two-phase steps of one batch and the recovery decision (docs/exactly-once.md).

A batch's life, each step written down before the next one starts:

1. **announce**: the committed offset stays at or below the batch's first offset and the metadata names its
   range (offsets.py) — its label is then known to whoever owns the partition next;
2. **precommit** the range under its deterministic label (Doris ``two_phase_commit``, StarRocks
   begin/load/prepare): rows are in the database, invisible;
3. **record**: a synchronous offset commit marks the range precommitted (``@<time>``); only now may the
   transaction be committed, so a committed transaction always has this mark (or a later offset) in Kafka;
4. **commit** the transaction by label;
5. the offset moves past the range, the mark disappears.

After a crash the next owner re-cuts the recorded range (same label) and ``decide`` picks what to do with
it from the recorded step and the label's state in the database. The database is asked only about marked
ranges whose label it must still know: a marked range is at most ``precommit timeout`` old when the worker
stops, and Doris keeps labels 12 h (StarRocks 3 days) after they finish.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from typing import Any

from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.tables import TableRef

log = logging.getLogger("olapsink.exactly_once")

#: Label states meaning the rows are (or will be, publish pending) visible.
COMMITTED_STATES = frozenset({"VISIBLE", "COMMITTED"})
#: Label states of a precommitted transaction waiting for commit or abort.
PRECOMMITTED_STATES = frozenset({"PRECOMMITTED", "PREPARED"})

#: What to do with a recorded-precommitted range whose label the database no longer knows.
UNDECIDED_POLICIES = ("fail", "skip", "reload")


class Action(enum.Enum):
    SKIP = "skip"  # the rows are in the table: count the range as done
    COMMIT = "commit"  # precommitted with exactly the range's rows: commit it
    RELOAD = "reload"  # nothing of the range is in the table: load it again (same label, now free)
    WAIT = "wait"  # the transaction is still being written: ask again later
    UNDECIDABLE = "undecidable"  # the database forgot a label that was precommitted


def decide(state: str) -> Action:
    """The recovery action for a range recorded as precommitted, from its label's state.

    Only called for marked ranges: an unmarked range was never committed, and its precommit call
    settles an existing label itself (visible: done, precommitted: handed back, aborted: label free).
    """
    state = state.upper()
    if state in COMMITTED_STATES:
        return Action.SKIP
    if state in PRECOMMITTED_STATES:
        return Action.COMMIT
    if state == "ABORTED":
        return Action.RELOAD  # expired (or rolled back) while nobody committed it: nothing is visible
    if state == "UNKNOWN":
        return Action.UNDECIDABLE
    return Action.WAIT  # PREPARE, RUNNING: not finished yet


def undecided_action(policy: str, label: str, table: TableRef, span: str, age_s: float) -> Action:
    """What ``UNKNOWN`` for a precommitted range turns into under the operator's ``policy``."""
    if policy == "skip":
        log.warning("label %s (%s) is unknown to the database; skipping the range as told", label, span)
        return Action.SKIP
    if policy == "reload":
        log.warning("label %s (%s) is unknown to the database; reloading the range as told", label, span)
        return Action.RELOAD
    raise FatalSinkError(
        f"exactly-once: the range {span} of {table} was precommitted as label {label}"
        f" {age_s / 3600:.1f} h ago and the database no longer knows that label, so whether its rows"
        " are in the table cannot be told."
        " Check the table for those rows, then restart with OLAPSINK_EXACTLY_ONCE_UNDECIDED=skip (they are"
        " there) or =reload (they are not)",
        reason="ExactlyOnceUndecidable",
    )


class TwoPhase:
    """The database side of one exactly-once batch: precommit, commit and the label checks. Runs on a
    load thread; ``retry`` is the sink's RetryPolicy (its retries and backoff apply to every call)."""

    def __init__(self, loader: Any, retry: Any) -> None:
        self.loader = loader
        self.retry = retry

    def state(self, table: TableRef, label: str, describe: str) -> str:
        return str(self.retry.run(lambda: self.loader.label_state(table.database, label), describe=describe))

    def commit(self, table: TableRef, label: str, describe: str) -> bool:
        """Commit ``label``; True once its rows are visible, False when the transaction was aborted
        (expired before the commit came): nothing of it is in the table, the range must be loaded again."""

        def attempt() -> bool:
            try:
                self.loader.commit(table, label=label)
                return True
            except (RetryableLoadError, FatalSinkError) as error:
                state = self.loader.label_state(table.database, label)
                if state in COMMITTED_STATES:
                    return True
                if state == "ABORTED":
                    return False
                if isinstance(error, FatalSinkError):
                    raise
                raise RetryableLoadError(f"{error} (label state {state})", delay=error.delay) from error

        return bool(self.retry.run(attempt, describe=f"commit of {describe}"))


class CrashPoints:
    """Test-only: ``OLAPSINK_TEST_CRASH_AT=<point>:<n>[,<point>:<n>…]`` ends the process with
    ``os._exit(137)`` (as SIGKILL would) the ``n``-th time the worker reaches ``<point>``. Points:
    ``after_announce``, ``after_precommit``, ``after_record``, ``after_commit``. Never set it in
    production: it exists so that tests can stop a worker between two exact steps of the protocol."""

    POINTS = ("after_announce", "after_precommit", "after_record", "after_commit")

    def __init__(self, spec: str | None, exit: Callable[[int], Any] = os._exit) -> None:
        self._left: dict[str, int] = {}
        self._exit = exit
        for item in filter(None, (spec or "").split(",")):
            point, _, n = item.strip().partition(":")
            if point not in self.POINTS:
                raise ValueError(f"OLAPSINK_TEST_CRASH_AT: unknown point {point!r}; one of {self.POINTS}")
            self._left[point] = int(n or "1")

    @classmethod
    def from_env(cls) -> CrashPoints:
        return cls(os.environ.get("OLAPSINK_TEST_CRASH_AT"))

    def reached(self, point: str) -> None:
        if point not in self._left:
            return
        self._left[point] -= 1
        if self._left[point] <= 0:
            log.error("OLAPSINK_TEST_CRASH_AT: exiting at %s", point)
            logging.shutdown()
            self._exit(137)
