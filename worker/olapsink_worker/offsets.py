"""Which Kafka offset may be committed, and the replay plan stored next to it.

The committed offset of a partition is the lowest offset not yet durable: the first offset of any open,
queued or in-flight batch of that partition, else the next offset to consume. Records skipped on purpose
(tolerated tombstones, dead-lettered records) need nothing and are covered by the latter.

**Commit metadata.** Before a batch's load starts, its range is committed in the partition's offset-commit
metadata (``v1;<table>=<first>-<last>,…;d<table>=<done>``; table names are short hashes). After a crash,
whoever owns the partition next reads it back (``ReplayPlan``) and re-cuts the first batches of each table
to exactly those ranges, so they carry the same deterministic labels and the database answers
``Label Already Exists`` for a load that had already happened. ``done`` is the last offset of each table
already durable above the committed offset (another table's slower batch holds the offset back); such rows
are skipped on replay instead of being loaded again under a new label.

**Exactly-once** (docs/exactly-once.md) adds one fact per range: ``<table>=<first>-<last>@<time>`` says the
range's transaction was precommitted at ``<time>`` (Unix seconds) and may have been committed since. A
range without it was only announced: its transaction was never committed. The tracker also keeps a
previous owner's ranges in the metadata until they are loaded again (``assign(..., plan=)``), so that a
crash during recovery does not forget which ranges may already be in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from olapsink_worker.buffer import Batch, TopicPartition, table_tag
from olapsink_worker.tables import TableRef

METADATA_VERSION = "v1"
#: Kafka's default offset.metadata.max.bytes is 4096; stay well below it.
METADATA_LIMIT = 3000


#: (table tag, first offset, last offset) of a recorded range.
RangeKey = tuple[str, int, int]


@dataclass(frozen=True)
class ReplayPlan:
    """What a previous owner of a partition recorded: ranges to re-cut and rows to skip, per table tag,
    and (exactly-once) when each precommitted range's transaction was precommitted."""

    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    precommitted: dict[RangeKey, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.ranges and not self.done


def encode_metadata(
    ranges: dict[str, list[tuple[int, int]]],
    done: dict[str, int],
    precommitted: dict[RangeKey, int] | None = None,
) -> str:
    marks = precommitted or {}

    def item(t: str, f: int, last: int) -> str:
        at = marks.get((t, f, last))
        return f"{t}={f}-{last}" if at is None else f"{t}={f}-{last}@{at}"

    range_items = [item(t, f, last) for t in sorted(ranges) for f, last in sorted(ranges[t])]
    done_items = [f"{t}={d}" for t, d in sorted(done.items())]
    while True:
        text = ";".join([METADATA_VERSION, ",".join(range_items), ",".join(done_items)])
        if len(text) <= METADATA_LIMIT or not (range_items or done_items):
            return text
        # Losing part of the plan only costs deduplication after a crash (duplicates, never loss).
        (range_items if len(range_items) >= len(done_items) else done_items).pop()


def decode_metadata(text: str | None) -> ReplayPlan:
    """Parse commit metadata; anything unrecognised (another tool's metadata, a newer version) is an
    empty plan rather than an error: the partition is then simply consumed from the committed offset."""
    if not text or not text.startswith(METADATA_VERSION + ";"):
        return ReplayPlan()
    ranges: dict[str, list[tuple[int, int]]] = {}
    done: dict[str, int] = {}
    precommitted: dict[RangeKey, int] = {}
    try:
        _, range_text, done_text = text.split(";")
        for item in filter(None, range_text.split(",")):
            tag, _, span = item.partition("=")
            span, at_mark, at = span.partition("@")
            first, _, last = span.partition("-")
            ranges.setdefault(tag, []).append((int(first), int(last)))
            if at_mark:
                precommitted[(tag, int(first), int(last))] = int(at)
        for item in filter(None, done_text.split(",")):
            tag, _, upto = item.partition("=")
            done[tag] = int(upto)
    except ValueError:
        return ReplayPlan()
    return ReplayPlan({t: sorted(r) for t, r in ranges.items()}, done, precommitted)


@dataclass
class _Partition:
    position: int | None = None  # next offset to consume
    pending: dict[int, Batch] = field(default_factory=dict)  # cut, not yet durable, by batch id
    done: dict[TableRef, int] = field(default_factory=dict)  # last durable offset per table
    committed: tuple[int, str] | None = None
    precommitted: dict[int, int] = field(default_factory=dict)  # batch id -> precommit time (Unix s)
    # A previous owner's ranges (and precommit times) not yet cut again, and its done marks by tag.
    recovered: dict[RangeKey, int | None] = field(default_factory=dict)
    recovered_done: dict[str, int] = field(default_factory=dict)


class OffsetTracker:
    """Per-partition bookkeeping for commits. Only the engine loop touches it."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartition, _Partition] = {}

    def assign(
        self,
        tp: TopicPartition,
        committed: int | None = None,
        metadata: str = "",
        plan: ReplayPlan | None = None,
    ) -> None:
        """Start tracking ``tp``. With ``plan`` (exactly-once), the previous owner's ranges stay in the
        metadata until they are cut again, with their precommit times."""
        part = self._parts.setdefault(tp, _Partition())
        if committed is not None and committed >= 0:
            part.committed = (committed, metadata)
        if plan is not None:
            for tag, spans in plan.ranges.items():
                for first, last in spans:
                    part.recovered[(tag, first, last)] = plan.precommitted.get((tag, first, last))
            part.recovered_done = dict(plan.done)

    def forget(self, tp: TopicPartition) -> None:
        self._parts.pop(tp, None)

    def consumed(self, tp: TopicPartition, last_offset: int) -> None:
        part = self._parts.setdefault(tp, _Partition())
        part.position = last_offset + 1

    def pending(self, batch: Batch) -> int | None:
        """Track a cut batch. Returns the precommit time a previous owner recorded for exactly this
        range (its transaction may be precommitted or committed), else None."""
        part = self._parts.setdefault(batch.key.tp, _Partition())
        part.pending[batch.id] = batch
        at = part.recovered.pop((table_tag(batch.key.table), batch.first, batch.last), None)
        if at is not None:
            part.precommitted[batch.id] = at
        return at

    def precommitted(self, batch: Batch, at: int) -> None:
        """The batch's transaction is precommitted (at Unix time ``at``): say so in the next commit."""
        part = self._parts.get(batch.key.tp)
        if part is not None and batch.id in part.pending:
            part.precommitted[batch.id] = at

    def durable(self, batch: Batch) -> None:
        part = self._parts.get(batch.key.tp)
        if part is None:  # partition revoked meanwhile; the next owner replays
            return
        part.pending.pop(batch.id, None)
        part.precommitted.pop(batch.id, None)
        table = batch.key.table
        part.done[table] = max(part.done.get(table, -1), batch.last)

    def pending_batches(self, tp: TopicPartition) -> list[Batch]:
        part = self._parts.get(tp)
        return list(part.pending.values()) if part else []

    def partitions(self) -> list[TopicPartition]:
        return list(self._parts)

    def commit_point(self, tp: TopicPartition, open_first: int | None) -> tuple[int, str] | None:
        """(offset, metadata) to commit now, or None when nothing changed or nothing was consumed."""
        part = self._parts.get(tp)
        if part is None:
            return None
        candidates = [b.first for b in part.pending.values()]
        if open_first is not None:
            candidates.append(open_first)
        if part.position is not None:
            candidates.append(part.position)
        if not candidates:
            return None
        offset = min(candidates)
        ranges: dict[str, list[tuple[int, int]]] = {}
        marks: dict[RangeKey, int] = {}
        for b in part.pending.values():
            tag = table_tag(b.key.table)
            ranges.setdefault(tag, []).append((b.first, b.last))
            if b.id in part.precommitted:
                marks[(tag, b.first, b.last)] = part.precommitted[b.id]
        # Recovered ranges below the offset were consumed without being cut again (their rows are gone
        # or went elsewhere): nothing is left to settle for them.
        for key in [k for k in part.recovered if k[2] < offset]:
            del part.recovered[key]
        for (tag, first, last), at in part.recovered.items():
            ranges.setdefault(tag, []).append((first, last))
            if at is not None:
                marks[(tag, first, last)] = at
        done = {table_tag(t): d for t, d in part.done.items() if d >= offset}
        for tag, d in part.recovered_done.items():
            if d >= offset and d > done.get(tag, -1):
                done[tag] = d
        # Done marks below the commit point are covered by the offset itself.
        for t in [t for t, d in part.done.items() if d < offset]:
            del part.done[t]
        part.recovered_done = {t: d for t, d in part.recovered_done.items() if d >= offset}
        point = (offset, encode_metadata(ranges, done, marks))
        if part.committed is not None and part.committed[0] > offset:
            return None  # never move a committed offset backwards (e.g. a replayed range below it)
        return None if point == part.committed else point

    def mark_committed(self, tp: TopicPartition, point: tuple[int, str]) -> None:
        part = self._parts.get(tp)
        if part is not None:
            part.committed = point

    def unmark_committed(self, tp: TopicPartition) -> None:
        """The last commit of ``tp`` failed: forget it so that the next commit point is sent again."""
        part = self._parts.get(tp)
        if part is not None:
            part.committed = None

    def committed(self, tp: TopicPartition) -> int | None:
        part = self._parts.get(tp)
        return part.committed[0] if part and part.committed else None
