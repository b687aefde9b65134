"""Open batches per (topic, partition, table), and the triggers that cut them.

Design choice: one buffer per **topic-partition and table**, not one shared per table. It costs more,
smaller loads when a worker owns many partitions, but it is what makes a replay after a crash
deduplicable: a batch holds a contiguous offset range of one partition, so its label (prefix, table,
topic, partition, first..last offset) can be recomputed by whichever worker owns the partition next, and
the commit metadata can name the in-flight ranges (see offsets.py). A batch mixing partitions could only be
re-cut by a worker owning all of them at once. Memory stays bounded by the worker-wide budget
(backpressure.py), which force-cuts the largest buffers, not by the partition count.

Triggers (the flavor defaults come from the spec): record count (exact: a run is split at the limit),
bytes (the batch is cut once it reaches the limit), and age of the oldest row (``flush_interval``), checked
by the engine on a timer, so a quiet partition still flushes on time.

A **replay plan** pins batch boundaries: ranges ``(first, last)`` whose load may have happened before a
crash are cut exactly there, whatever the triggers say, and rows up to ``skip_upto`` (already durable)
are dropped.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from olapsink_worker.tables import TableRef

TopicPartition = tuple[str, int]

#: Python object overhead per buffered row, counted against the memory budget (bytes header + list slot).
ROW_OVERHEAD = 41

_ids = itertools.count(1)


def table_tag(table: TableRef) -> str:
    """A short stable name for a table in commit metadata (names can be long; metadata is capped)."""
    return hashlib.sha1(str(table).encode()).hexdigest()[:10]


@dataclass(frozen=True, order=True)
class BatchKey:
    topic: str
    partition: int
    table: TableRef

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(eq=False)
class Batch:
    """Rows of one partition for one table, in offset order; ``first``..``last`` are Kafka offsets."""

    key: BatchKey
    started: float
    first: int = -1
    last: int = -1
    rows: list[bytes] = field(default_factory=list)
    nbytes: int = 0
    replay: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    #: Exactly-once: when a previous owner recorded this range as precommitted (Unix s), else None.
    recorded_precommit: int | None = None
    #: Exactly-once: the next step of its load, "precommit" or "commit" (after the precommit is recorded).
    stage: str = "precommit"
    #: Exactly-once: the precommit's LoadResult, reported once the commit is done.
    loaded: Any = None

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def memory(self) -> int:
        return self.nbytes + ROW_OVERHEAD * len(self.rows)

    @property
    def dense(self) -> bool:
        """Every offset in first..last is in the batch, so row i has offset first + i."""
        return self.last - self.first + 1 == len(self.rows)

    def offset_of(self, index: int) -> int | None:
        return self.first + index if self.dense else None

    def extend(self, rows: Sequence[bytes], first: int, last: int) -> None:
        if not self.rows:
            self.first = first
        self.rows.extend(rows)
        self.last = last
        self.nbytes += sum(map(len, rows))


@dataclass
class _KeyState:
    open: Batch | None = None
    replay: deque[tuple[int, int]] = field(default_factory=deque)
    skip_upto: int | None = None


@dataclass(frozen=True)
class FlushPolicy:
    max_records: int | None
    max_bytes: int
    interval: float  # seconds


OffsetAt = Callable[[int], int]


class Buffers:
    """All open batches of this worker. Not thread-safe: only the engine loop touches it."""

    def __init__(self, policy: FlushPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.clock = clock
        self._keys: dict[BatchKey, _KeyState] = {}
        self._by_tp: dict[TopicPartition, set[BatchKey]] = {}
        self._plans: dict[TopicPartition, tuple[dict[str, list[tuple[int, int]]], dict[str, int]]] = {}
        self.memory = 0  # memory of open batches

    # -- replay plans ---------------------------------------------------------------------------------

    def plan_partition(
        self, tp: TopicPartition, ranges: dict[str, list[tuple[int, int]]], done: dict[str, int]
    ) -> None:
        """Pin batch boundaries of a partition's tables (by ``table_tag``), applied when each table's
        first row arrives: the tags cannot be turned back into tables before that."""
        if ranges or done:
            self._plans[tp] = (ranges, done)

    def has_plan(self, tp: TopicPartition) -> bool:
        return tp in self._plans

    # -- adding rows ----------------------------------------------------------------------------------

    def add(
        self, key: BatchKey, rows: list[bytes], offset_at: OffsetAt, arrived: float | None = None
    ) -> list[Batch]:
        """Append rows (offsets ascending, ``offset_at(i)`` gives row i's) and return the batches this cut.

        ``arrived``: a clock reading no later than the rows' arrival; a batch they open counts its age from
        it. The engine passes the time it called ``consume()``, which blocks until its batch is full or its
        timeout ends: a trickle of records would otherwise wait that timeout on top of the flush interval."""
        st = self._state(key)
        cut: list[Batch] = []
        n = len(rows)
        i = 0
        if st.skip_upto is not None:
            i = bisect.bisect_right(range(n), st.skip_upto, key=offset_at)
            if i < n:
                st.skip_upto = None
        while i < n and st.replay:
            first, last = st.replay[0]
            off = offset_at(i)
            if off > last:
                # The range's rows are gone (compaction, retention, a changed routing): nothing left to pin.
                if st.open is not None and st.open.replay:
                    cut.append(self._cut(st))
                st.replay.popleft()
                continue
            if off < first:
                j = bisect.bisect_left(range(n), first, lo=i, key=offset_at)
                self._add_normal(st, key, rows, i, j, offset_at, cut, arrived)
                i = j
                continue
            if st.open is not None and not st.open.replay:
                cut.append(self._cut(st))
            j = bisect.bisect_right(range(n), last, lo=i, key=offset_at)
            batch = self._open(st, key, arrived)
            batch.replay = True
            self._extend(batch, rows[i:j], offset_at(i), offset_at(j - 1))
            if j < n or batch.last == last:
                cut.append(self._cut(st))
                st.replay.popleft()
            i = j
        if i < n:
            self._add_normal(st, key, rows, i, n, offset_at, cut, arrived)
        return cut

    def _add_normal(
        self,
        st: _KeyState,
        key: BatchKey,
        rows: list[bytes],
        i: int,
        j: int,
        offset_at: OffsetAt,
        cut: list[Batch],
        arrived: float | None,
    ) -> None:
        max_records = self.policy.max_records
        while i < j:
            batch = self._open(st, key, arrived)
            end = j
            if max_records:
                end = min(j, i + max_records - batch.count)
            self._extend(
                batch, rows[i:end] if (i, end) != (0, len(rows)) else rows, offset_at(i), offset_at(end - 1)
            )
            if (max_records and batch.count >= max_records) or batch.nbytes >= self.policy.max_bytes:
                cut.append(self._cut(st))
            i = end

    def _extend(self, batch: Batch, rows: Sequence[bytes], first: int, last: int) -> None:
        before = batch.memory
        batch.extend(rows, first, last)
        self.memory += batch.memory - before

    # -- cutting ----------------------------------------------------------------------------------------

    def due(self, now: float) -> list[Batch]:
        """Batches whose oldest row is older than the flush interval (replay batches wait for their end)."""
        interval = self.policy.interval
        return [
            self._cut(st)
            for st in self._keys.values()
            if st.open is not None and not st.open.replay and now - st.open.started >= interval
        ]

    def next_due(self) -> float | None:
        starts = [st.open.started for st in self._keys.values() if st.open is not None and not st.open.replay]
        return min(starts) + self.policy.interval if starts else None

    def cut_largest(self, target_memory: int) -> list[Batch]:
        """Cut the biggest open batches until open memory is at most ``target_memory`` (budget pressure)."""
        states = sorted(
            (st for st in self._keys.values() if st.open is not None and not st.open.replay),
            key=lambda st: st.open.memory if st.open else 0,
            reverse=True,
        )
        cut: list[Batch] = []
        for st in states:
            if self.memory <= target_memory:
                break
            cut.append(self._cut(st))
        return cut

    def cut_partitions(self, tps: set[TopicPartition], *, keep_replay: bool = False) -> list[Batch]:
        """Cut every open batch of these partitions (revoke, shutdown). Replay batches too: their range's
        end never came, and a shorter batch under another label is still correct at-least-once. With
        ``keep_replay`` (exactly-once) they stay open instead: the recorded range may already be in the
        database under its own label, so only that exact range may be loaded; the next owner does it."""
        cut = []
        for tp in tps:
            for key in self._by_tp.get(tp, ()):
                st = self._keys[key]
                if st.open is not None and not (keep_replay and st.open.replay):
                    cut.append(self._cut(st))
        return cut

    def drop_partitions(self, tps: set[TopicPartition]) -> None:
        """Forget these partitions' buffers and plans (their records will be consumed again)."""
        for tp in tps:
            self._plans.pop(tp, None)
            for key in self._by_tp.pop(tp, set()):
                st = self._keys.pop(key)
                if st.open is not None:
                    self.memory -= st.open.memory

    def open_first(self, tp: TopicPartition) -> int | None:
        firsts = [st.open.first for k in self._by_tp.get(tp, ()) if (st := self._keys[k]).open is not None]
        return min(firsts) if firsts else None

    def partitions(self) -> set[TopicPartition]:
        return set(self._by_tp)

    def _state(self, key: BatchKey) -> _KeyState:
        st = self._keys.get(key)
        if st is None:
            st = self._keys[key] = _KeyState()
            self._by_tp.setdefault(key.tp, set()).add(key)
            plan = self._plans.get(key.tp)
            if plan is not None:
                tag = table_tag(key.table)
                st.replay = deque(sorted(plan[0].get(tag, ())))
                st.skip_upto = plan[1].get(tag)
        return st

    def _open(self, st: _KeyState, key: BatchKey, arrived: float | None = None) -> Batch:
        if st.open is None:
            st.open = Batch(key, started=self.clock() if arrived is None else arrived)
        return st.open

    def _cut(self, st: _KeyState) -> Batch:
        batch = st.open
        assert batch is not None
        st.open = None
        self.memory -= batch.memory
        return batch
