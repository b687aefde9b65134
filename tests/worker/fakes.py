"""Test doubles for the engine: a consumer with confluent-kafka's call shapes and a scripted loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.load import LoadResult, RetryPolicy, frame_rows
from olapsink_worker.load.dialect import Framing
from olapsink_worker.spec import parse_manifest


def make_sink(**spec: Any) -> Any:
    base: dict[str, Any] = {
        "kafka": {"bootstrapServers": "127.0.0.1:1", "topics": ["t"]},
        "doris": {"feHosts": ["127.0.0.1"], "database": "db"},
        "tables": [{"topic": "t", "table": "tbl"}],
        "buffer": {"records": 10, "flushIntervalMs": 1000},
    }
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return parse_manifest(
        {"apiVersion": "olapsink.io/v1alpha1", "kind": "DorisSink", "metadata": {"name": "s"}, "spec": base}
    )


@dataclass
class TP:
    topic: str
    partition: int
    offset: int = -1001
    metadata: str | None = None
    leader_epoch: int | None = None
    error: Any = None


class Msg:
    def __init__(
        self, topic: str, partition: int, offset: int, value: bytes | None, key: bytes | None = None
    ) -> None:
        self._t, self._p, self._o, self._v, self._k = topic, partition, offset, value, key

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes | None:
        return self._v

    def key(self) -> bytes | None:
        return self._k

    def error(self) -> None:
        return None


@dataclass
class FakeConsumer:
    """Holds a log per partition; commits are stored like a group coordinator would."""

    logs: dict[tuple[str, int], list[bytes | None]] = field(default_factory=dict)
    committed_store: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    assigned: list[tuple[str, int]] = field(default_factory=list)
    paused: set[tuple[str, int]] = field(default_factory=set)
    commits: list[list[tuple[str, int, int, str]]] = field(default_factory=list)
    callbacks: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    batch: int = 7
    on_commit: Any = None  # like librdkafka's on_commit: served from consume()
    _answers: list[list[TP]] = field(default_factory=list)

    def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any, on_lost: Any) -> None:
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def assign_all(self) -> None:
        self.callbacks["assign"](self, [TP(t, p) for t, p in sorted(self.logs)])

    def revoke(self, tps: list[tuple[str, int]]) -> None:
        self.callbacks["revoke"](self, [TP(t, p) for t, p in tps])

    def committed(self, partitions: list[TP], timeout: float = 0) -> list[TP]:
        out = []
        for tp in partitions:
            offset, meta = self.committed_store.get((tp.topic, tp.partition), (-1001, ""))
            out.append(TP(tp.topic, tp.partition, offset, meta))
        return out

    def incremental_assign(self, partitions: list[TP]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.assigned.append(key)
            start = self.committed_store.get(key, (0, ""))[0]
            self.positions[key] = max(0, start)

    def incremental_unassign(self, partitions: list[TP]) -> None:
        for tp in partitions:
            self.assigned.remove((tp.topic, tp.partition))

    def pause(self, partitions: list[Any]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[Any]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def consume(self, num: int, timeout: float) -> list[Msg]:
        answers, self._answers = self._answers, []
        for parts in answers:
            self.on_commit(None, parts)
        out: list[Msg] = []
        for key in self.assigned:
            if key in self.paused:
                continue
            log = self.logs[key]
            pos = self.positions[key]
            take = log[pos : pos + self.batch]
            out += [Msg(key[0], key[1], pos + i, v) for i, v in enumerate(take)]
            self.positions[key] = pos + len(take)
        return out

    def commit(self, offsets: list[TP], asynchronous: bool = True) -> None:
        if asynchronous:
            assert self.on_commit is not None, "async commit without an on_commit callback"
            self._answers.append(list(offsets))
        self.commits.append([(o.topic, o.partition, o.offset, o.metadata or "") for o in offsets])
        for o in offsets:
            self.committed_store[(o.topic, o.partition)] = (o.offset, o.metadata or "")

    def close(self) -> None:
        self.closed = True
        if self.assigned:
            self.revoke(list(self.assigned))


@dataclass
class FakeLoader:
    """Stores loaded rows per label like the database's label registry; ``script`` injects errors."""

    tables: dict[str, list[bytes]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    script: list[BaseException] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def label_for(self, table: Any, parts: list[tuple[str, int, int, int]]) -> str:
        ((topic, partition, first, last),) = parts
        return f"{table.table}-{topic}-{partition}-{first}-{last}"

    def frame(self, rows: list[bytes]) -> bytes:
        return frame_rows(rows, Framing("json_lines"))

    def load(self, table: Any, body: bytes, label: str, rows: int) -> LoadResult:
        self.calls.append(label)
        if self.script:
            raise self.script.pop(0)
        if label in self.labels:
            return LoadResult(label=label, status="Label Already Exists", duplicate=True)
        self.labels[label] = rows
        self.tables.setdefault(table.table, []).extend(body.split(b"\n"))
        return LoadResult(label=label, status="Success", loaded_rows=rows)

    def fetch_error_rows(self, url: str) -> list[str]:
        return []


def fast_retry(max_retries: int = 3) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, base_delay=0, max_delay=0, sleep=lambda s: None)


__all__ = [
    "FakeConsumer",
    "FakeLoader",
    "FatalSinkError",
    "Msg",
    "RetryableLoadError",
    "fast_retry",
    "make_sink",
]
