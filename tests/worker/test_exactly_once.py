"""Exactly-once: the recovery decision, the precommit marks in the offset metadata, and the engine killed
at each step of the protocol then restarted (each row of the table in docs/exactly-once.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from olapsink_worker.buffer import Batch, BatchKey, table_tag
from olapsink_worker.engine import EXIT_FATAL, Engine, EngineOptions
from olapsink_worker.errors import RetryableLoadError
from olapsink_worker.exactly_once import Action, CrashPoints, decide
from olapsink_worker.load import LoadResult
from olapsink_worker.offsets import OffsetTracker, ReplayPlan, decode_metadata, encode_metadata
from olapsink_worker.tables import TableRef

from .fakes import TP, FakeConsumer, FakeLoader, fast_retry, make_sink

TABLE = TableRef("db", "tbl")
TAG = table_tag(TABLE)


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("VISIBLE", Action.SKIP),
        ("COMMITTED", Action.SKIP),
        ("PRECOMMITTED", Action.COMMIT),
        ("PREPARED", Action.COMMIT),
        ("ABORTED", Action.RELOAD),
        ("UNKNOWN", Action.UNDECIDABLE),
        ("PREPARE", Action.WAIT),
        ("visible", Action.SKIP),
    ],
)
def test_recorded_precommit_is_settled_by_label_state(state, action):
    assert decide(state) is action


def test_crash_points_exit_on_the_nth_time_only_at_their_point():
    exits: list[int] = []
    crash = CrashPoints("after_precommit:2, after_commit", exit=exits.append)
    crash.reached("after_record")
    crash.reached("after_precommit")
    assert exits == []
    crash.reached("after_precommit")
    assert exits == [137]
    crash.reached("after_commit")
    assert exits == [137, 137]
    with pytest.raises(ValueError, match="unknown point"):
        CrashPoints("between_coffees:1")


def test_precommit_marks_round_trip_and_old_metadata_has_none():
    text = encode_metadata({TAG: [(0, 9), (10, 19)]}, {}, {(TAG, 10, 19): 1700000000})
    assert text == f"v1;{TAG}=0-9,{TAG}=10-19@1700000000;"
    plan = decode_metadata(text)
    assert plan.ranges == {TAG: [(0, 9), (10, 19)]}
    assert plan.precommitted == {(TAG, 10, 19): 1700000000}
    assert decode_metadata(f"v1;{TAG}=0-9;").precommitted == {}
    assert decode_metadata(f"v1;{TAG}=0-9@x;").empty


def _batch(first: int, last: int) -> Batch:
    b = Batch(BatchKey("t", 0, TABLE), started=0)
    b.extend([b"x"] * (last - first + 1), first, last)
    return b


def test_tracker_keeps_a_previous_owners_ranges_and_marks_until_cut_again():
    t = OffsetTracker()
    plan = ReplayPlan({TAG: [(10, 19), (20, 29)]}, {}, {(TAG, 20, 29): 5})
    t.assign(("t", 0), 10, "", plan=plan)
    t.consumed(("t", 0), 14)
    # Nothing cut yet: the offset holds at the open replay batch and both ranges stay recorded.
    offset, meta = t.commit_point(("t", 0), open_first=10)
    assert offset == 10
    assert decode_metadata(meta) == plan
    first = _batch(10, 19)
    assert t.pending(first) is None
    second = _batch(20, 29)
    assert t.pending(second) == 5  # handed to the batch, and still recorded while it settles
    t.consumed(("t", 0), 29)
    t.durable(first)
    offset, meta = t.commit_point(("t", 0), open_first=None)
    assert offset == 20 and decode_metadata(meta).precommitted == {(TAG, 20, 29): 5}
    t.durable(second)
    assert t.commit_point(("t", 0), None) == (30, "v1;;")


def test_tracker_drops_recovered_ranges_consumed_past_without_being_cut():
    t = OffsetTracker()
    t.assign(("t", 0), 0, "", plan=ReplayPlan({TAG: [(0, 4)]}, {}, {(TAG, 0, 4): 5}))
    t.consumed(("t", 0), 9)  # the range's rows went elsewhere (routing changed, records deleted)
    assert t.commit_point(("t", 0), None) == (10, "v1;;")


# -- the engine killed at each step ------------------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


@dataclass
class TwoPhaseDatabase(FakeLoader):
    """Labels with transaction states like the FE keeps them; rows become visible on commit only."""

    states: dict[str, str] = field(default_factory=dict)
    staged: dict[str, list[bytes]] = field(default_factory=dict)

    def load(self, table: Any, body: bytes, label: str, rows: int) -> LoadResult:
        raise AssertionError("exactly-once never loads in one phase")

    def precommit(self, table: Any, body: bytes, label: str, rows: int) -> LoadResult:
        self.calls.append(f"precommit {label}")
        state = self.states.get(label)
        if state == "VISIBLE":
            return LoadResult(label=label, status="Label Already Exists", duplicate=True)
        if state == "PRECOMMITTED":
            return LoadResult(label=label, status="PRECOMMITTED")
        self.states[label] = "PRECOMMITTED"
        self.staged[label] = body.split(b"\n")
        return LoadResult(label=label, status="Success", loaded_rows=rows)

    def commit(self, table: Any, txn_id: int | None = None, *, label: str) -> None:
        self.calls.append(f"commit {label}")
        state = self.states.get(label)
        if state == "VISIBLE":
            return
        if state != "PRECOMMITTED":
            raise RetryableLoadError(f"transaction {label} is {state}", delay=0)
        self.states[label] = "VISIBLE"
        self.tables.setdefault(table.table, []).extend(self.staged.pop(label))

    def label_state(self, database: str, label: str) -> str:
        return self.states.get(label, "UNKNOWN")

    def expire_precommitted(self) -> None:
        for label, state in self.states.items():
            if state == "PRECOMMITTED":
                self.states[label] = "ABORTED"
                self.staged.pop(label)

    def forget_finished_labels(self) -> None:
        self.states = {k: v for k, v in self.states.items() if v not in ("VISIBLE", "ABORTED")}


def _rows(n: int) -> list[bytes | None]:
    return [json.dumps({"id": i}).encode() for i in range(n)]


def _engine(consumer: FakeConsumer, db: TwoPhaseDatabase, crash_at: str | None = None, **opts: Any) -> Engine:
    engine = Engine(
        make_sink(deliveryGuarantee="exactly_once"),
        consumer=consumer,
        loader=db,
        retry_policy=fast_retry(),
        options=EngineOptions(drain_timeout=5, commit_interval=0, **opts),
        topic_partition=TP,
    )

    def die(code: int) -> None:
        raise Crash(code)

    engine.crash = CrashPoints(crash_at, exit=die)
    engine.subscribe(["t"])
    consumer.assign_all()
    return engine


def _until_crash(engine: Engine) -> None:
    with pytest.raises(Crash):
        for _ in range(200):
            engine.step()
            if engine._inflight:
                engine._harvest(block=0.05)


def _clean_run(consumer: FakeConsumer, db: TwoPhaseDatabase, **opts: Any) -> Engine:
    restarted = FakeConsumer(logs=consumer.logs, committed_store=dict(consumer.committed_store))
    engine = _engine(restarted, db, **opts)
    for _ in range(60):
        engine.step()
        if engine._inflight:
            engine._harvest(block=0.02)
    engine.stop()
    engine.run()
    return engine


def _ids(db: TwoPhaseDatabase) -> list[int]:
    return sorted(json.loads(r)["id"] for r in db.tables.get("tbl", []))


@pytest.mark.parametrize(
    ("crash_at", "between", "recovery"),
    [
        # killed after the range was announced, before anything reached the database: load it
        ("after_announce:2", None, "precommit"),
        # killed between precommit and its mark: the same label is found precommitted and is committed
        ("after_precommit:2", None, "precommit"),
        # killed between the mark and the commit: committed by the next owner
        ("after_record:2", None, "commit"),
        # ... and down past the precommit timeout: the aborted range is loaded again
        ("after_record:2", "expire", "precommit"),
        # killed between the commit and the offset commit: the visible label is skipped, not reloaded
        ("after_commit:2", None, "skip"),
    ],
)
def test_killed_at_a_protocol_step_then_restarted_loads_each_row_once(crash_at, between, recovery):
    consumer = FakeConsumer(logs={("t", 0): _rows(35)})
    db = TwoPhaseDatabase()
    _until_crash(_engine(consumer, db, crash_at))
    if between == "expire":
        db.expire_precommitted()
    marked = decode_metadata(consumer.committed_store[("t", 0)][1]).precommitted
    assert ((TAG, 10, 19) in marked) == crash_at.startswith(("after_record", "after_commit"))
    db.calls.clear()
    _clean_run(consumer, db)
    assert _ids(db) == list(range(35))
    label = "tbl-t-0-10-19"  # the second batch, where every kill happened
    if recovery == "skip":
        assert f"precommit {label}" not in db.calls and f"commit {label}" not in db.calls
    elif recovery == "commit":
        assert f"precommit {label}" not in db.calls and f"commit {label}" in db.calls
    else:
        assert f"precommit {label}" in db.calls and f"commit {label}" in db.calls


def test_forgotten_label_of_a_committed_range_stops_the_sink_unless_told():
    consumer = FakeConsumer(logs={("t", 0): _rows(20)})
    db = TwoPhaseDatabase()
    _until_crash(_engine(consumer, db, "after_commit:1"))
    db.forget_finished_labels()  # down for longer than the database keeps labels
    stopped = _clean_run(consumer, db)
    assert stopped.fatal is not None and getattr(stopped.fatal, "reason", "") == "ExactlyOnceUndecidable"
    assert "0-9" in str(stopped.fatal) and "OLAPSINK_EXACTLY_ONCE_UNDECIDED" in str(stopped.fatal)
    assert consumer.committed_store[("t", 0)][0] == 0
    # A person checked the table: the rows are there.
    _clean_run(consumer, db, undecided="skip")
    assert _ids(db) == list(range(20))


def test_forgotten_label_of_an_expired_range_is_reloaded_when_told():
    consumer = FakeConsumer(logs={("t", 0): _rows(20)})
    db = TwoPhaseDatabase()
    _until_crash(_engine(consumer, db, "after_record:1"))
    db.expire_precommitted()
    db.forget_finished_labels()
    _clean_run(consumer, db, undecided="reload")
    assert _ids(db) == list(range(20))


def test_precommit_mark_is_committed_before_the_transaction():
    consumer = FakeConsumer(logs={("t", 0): _rows(10)})
    marks_at_commit: list[dict[Any, int]] = []

    class Watching(TwoPhaseDatabase):
        def commit(self, table: Any, txn_id: int | None = None, *, label: str) -> None:
            marks_at_commit.append(decode_metadata(consumer.committed_store[("t", 0)][1]).precommitted)
            super().commit(table, txn_id, label=label)

    db = Watching()
    engine = _engine(consumer, db)
    for _ in range(10):
        engine.step()
        engine._harvest(block=0.05)
    assert _ids(db) == list(range(10))
    assert len(marks_at_commit) == 1 and list(marks_at_commit[0]) == [(TAG, 0, 9)]
    assert consumer.committed_store[("t", 0)] == (10, "v1;;")


def test_revoked_before_the_mark_leaves_the_transaction_to_the_next_owner():
    consumer = FakeConsumer(logs={("t", 0): _rows(10)}, batch=10)
    db = TwoPhaseDatabase()
    engine = _engine(consumer, db)
    engine.step()  # cut, announced, precommit started on a load thread
    engine._forget({("t", 0)})  # the partition was lost meanwhile
    engine._harvest(block=1.0)
    assert db.states == {"tbl-t-0-0-9": "PRECOMMITTED"}  # not committed by a non-owner
    _clean_run(consumer, db)
    assert _ids(db) == list(range(10)) and db.states["tbl-t-0-0-9"] == "VISIBLE"


def test_unknown_policy_is_a_config_error():
    from olapsink_worker.errors import ConfigError

    with pytest.raises(ConfigError, match="OLAPSINK_EXACTLY_ONCE_UNDECIDED"):
        _engine(FakeConsumer(logs={("t", 0): _rows(1)}), TwoPhaseDatabase(), undecided="guess")


def test_exit_code_stays_fatal_after_an_undecidable_range():
    consumer = FakeConsumer(logs={("t", 0): _rows(10)})
    db = TwoPhaseDatabase()
    _until_crash(_engine(consumer, db, "after_commit:1"))
    db.forget_finished_labels()
    restarted = FakeConsumer(logs=consumer.logs, committed_store=dict(consumer.committed_store))
    engine = _engine(restarted, db)
    for _ in range(20):
        engine.step()
        engine._harvest(block=0.02)
    assert engine.run() == EXIT_FATAL


def test_stopping_on_a_fatal_error_leaves_a_precommitted_batch_uncommitted_and_its_offset_unmoved():
    from olapsink_worker.errors import FatalSinkError

    consumer = FakeConsumer(logs={("t", 0): _rows(10)}, batch=10)
    db = TwoPhaseDatabase()
    engine = _engine(consumer, db)
    engine.step()  # cut, announced, precommit started on a load thread
    engine._set_fatal(FatalSinkError("another table failed", reason="LoadFailed"))
    engine._harvest(block=1.0)
    assert engine.run() == EXIT_FATAL
    assert db.states == {"tbl-t-0-0-9": "PRECOMMITTED"}
    assert consumer.committed_store[("t", 0)][0] == 0
    _clean_run(consumer, db)
    assert _ids(db) == list(range(10))
