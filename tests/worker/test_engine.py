"""The engine loop against fakes: what ends up loaded and committed, not which calls were made."""

from __future__ import annotations

import json

import pytest
from olapsink_worker.engine import EXIT_FATAL, EXIT_OK, Engine, EngineOptions
from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.offsets import decode_metadata

from tests.schema_registry.server import SchemaRegistryServer
from tests.worker.formats.avro_schemas import ORDER_V1, ORDER_V2, order
from tests.worker.formats.producers import avro_producer

from .fakes import TP, FakeConsumer, FakeLoader, fast_retry, make_sink


def rows(n: int, start: int = 0) -> list[bytes | None]:
    return [json.dumps({"id": i}).encode() for i in range(start, start + n)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def engine_for(consumer, loader, sink=None, clock=None, **opts):
    e = Engine(
        sink or make_sink(),
        consumer=consumer,
        loader=loader,
        retry_policy=fast_retry(),
        options=EngineOptions(drain_timeout=5, commit_interval=0, **opts),
        topic_partition=TP,
        clock=clock or Clock(),
    )
    e.subscribe(["t"])
    consumer.assign_all()
    return e


def run_until_idle(engine, steps=50):
    for _ in range(steps):
        engine.step()
        engine._harvest(block=0.05) if engine._inflight else None


def loaded_ids(loader, table="tbl"):
    return sorted(json.loads(r)["id"] for r in loader.tables.get(table, []))


def test_every_record_loaded_once_and_committed_after_shutdown():
    consumer = FakeConsumer(logs={("t", 0): rows(25), ("t", 1): rows(13, 100)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader)
    run_until_idle(engine)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == list(range(25)) + list(range(100, 113))
    assert consumer.committed_store[("t", 0)][0] == 25
    assert consumer.committed_store[("t", 1)][0] == 13
    # count trigger 10: 0-9, 10-19 then the shutdown flush 20-24
    assert "tbl-t-0-0-9" in loader.labels and "tbl-t-0-20-24" in loader.labels


def test_batch_range_is_committed_in_metadata_before_its_load():
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    seen = []

    class Watching(FakeLoader):
        def load(self, table, body, label, n):
            seen.append(decode_metadata(consumer.committed_store[("t", 0)][1]))
            return super().load(table, body, label, n)

    engine = engine_for(consumer, Watching())
    run_until_idle(engine, 5)
    assert seen and list(seen[0].ranges.values()) == [[(0, 9)]]
    assert consumer.committed_store[("t", 0)][0] == 10


def test_crash_mid_load_replays_same_label_and_counts_duplicate():
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader)
    # First worker: the load happens, but the process dies before the commit after it.
    loader.labels["tbl-t-0-0-9"] = 10
    loader.tables["tbl"] = rows(10)
    consumer.committed_store[("t", 0)] = (0, f"v1;{_tag()}=0-9;")
    # Second worker starts from the committed offset + plan with a smaller count trigger.
    consumer2 = FakeConsumer(logs=consumer.logs, committed_store=dict(consumer.committed_store), batch=3)
    engine2 = engine_for(consumer2, loader, sink=make_sink(buffer={"records": 4}))
    run_until_idle(engine2)
    engine2.stop()
    engine2.run()
    assert loaded_ids(loader) == list(range(10))  # no duplicate rows
    assert loader.calls == ["tbl-t-0-0-9"]  # same boundaries despite records=4
    assert consumer2.committed_store[("t", 0)][0] == 10
    del engine


def _tag():
    from olapsink_worker.buffer import table_tag
    from olapsink_worker.tables import TableRef

    return table_tag(TableRef("db", "tbl"))


def test_time_trigger_flushes_without_new_records():
    clock = Clock()
    consumer = FakeConsumer(logs={("t", 0): rows(3)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader, clock=clock)
    run_until_idle(engine, 3)
    assert loader.calls == []
    clock.now = 1.0  # flushIntervalMs 1000
    run_until_idle(engine, 3)
    assert loader.calls == ["tbl-t-0-0-2"]
    assert consumer.committed_store[("t", 0)][0] == 3


def test_time_trigger_counts_from_the_consume_call_not_its_return():
    # librdkafka's batch consume returns when its batch is full or its timeout ends: a trickle of records
    # arrives at the start of the wait and is handed over at its end. The interval counts from the call.
    clock = Clock()

    class WaitingConsumer(FakeConsumer):
        def consume(self, num, timeout):
            out = super().consume(num, timeout)
            clock.now += timeout  # the whole timeout: fewer than ``num`` records came
            return out

    consumer = WaitingConsumer(logs={("t", 0): rows(3)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader, clock=clock)
    engine.step()  # idle timeout 0.5 s: the 3 records are handed over at 0.5
    assert clock.now == 0.5 and loader.calls == []
    engine.step()  # the wait ends at the batch's deadline, 1.0 s after the call that read it: cut there
    assert clock.now == 1.0
    engine._harvest(block=5)
    assert loader.calls == ["tbl-t-0-0-2"]


def test_retryable_errors_are_retried_with_the_same_label():
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    loader = FakeLoader(script=[RetryableLoadError("503", delay=0), RetryableLoadError("503", delay=0)])
    engine = engine_for(consumer, loader)
    run_until_idle(engine, 5)
    assert loader.calls == ["tbl-t-0-0-9"] * 3
    assert loaded_ids(loader) == list(range(10))


def test_fatal_load_stops_without_committing_the_batch():
    consumer = FakeConsumer(logs={("t", 0): rows(15)})
    loader = FakeLoader(script=[FatalSinkError("unknown table")])
    engine = engine_for(consumer, loader, status_file=None)
    run_until_idle(engine, 5)
    assert engine.fatal is not None
    assert engine.run() == EXIT_FATAL
    assert consumer.committed_store[("t", 0)][0] == 0
    assert loader.tables == {}
    ready, why = engine.health.ready()
    assert not ready and "unknown table" in why


def test_exhausted_retries_are_fatal():
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    loader = FakeLoader(script=[RetryableLoadError("x", delay=0)] * 10)
    engine = engine_for(consumer, loader)
    run_until_idle(engine, 5)
    assert "gave up after 4 attempts" in str(engine.fatal)


def test_undecodable_records_stop_the_sink_or_go_to_dead_letters():
    envelope = [b'{"schema":null,"payload":{"id":%d}}' % i for i in range(3)]
    log = [*envelope, b"not json", *envelope]
    sink = make_sink(converter={"valueFormat": "json_with_schema"})
    consumer = FakeConsumer(logs={("t", 0): log})
    engine = engine_for(consumer, FakeLoader(), sink=sink)
    run_until_idle(engine, 3)
    assert "t[0]@3" in str(engine.fatal)
    engine.run()
    assert consumer.committed_store.get(("t", 0), (0, ""))[0] <= 3

    sent = []
    sink = make_sink(converter={"valueFormat": "json_with_schema"}, errors={"tolerance": "all"})
    consumer = FakeConsumer(logs={("t", 0): [*envelope, b"not json", *envelope]})
    loader = FakeLoader()
    engine = engine_for(consumer, loader, sink=sink)
    engine.dead_letters._on_sent = sent.append
    run_until_idle(engine, 3)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert [(d.offset, d.stage) for d in sent] == [(3, "decode")]
    assert len(loader.tables["tbl"]) == 6
    assert consumer.committed_store[("t", 0)][0] == 7


def test_memory_budget_pauses_and_resumes():
    big = [b'{"pad":"' + b"x" * 5000 + b'"}'] * 40
    sink = make_sink(buffer={"records": None, "bytes": 1_000_000, "memoryBudgetBytes": 1_000_000})
    consumer = FakeConsumer(logs={("t", p): list(big) for p in range(8)}, batch=40)
    gate = []

    class Slow(FakeLoader):
        def load(self, table, body, label, n):
            while not gate:
                import time

                time.sleep(0.01)
            return super().load(table, body, label, n)

    loader = Slow()
    engine = engine_for(consumer, loader, sink=sink)
    engine.step()  # 8 x 40 x 5 KB = 1.6 MB > budget
    assert consumer.paused == set(consumer.logs)
    assert engine.memory_in_use() <= 2_000_000
    gate.append(True)
    run_until_idle(engine, 20)
    assert consumer.paused == set()
    engine.stop()
    engine.run()
    assert len(loader.tables["tbl"]) == 8 * 40


def test_revoke_flushes_and_commits_the_revoked_partition():
    consumer = FakeConsumer(logs={("t", 0): rows(5), ("t", 1): rows(5, 50)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader)
    engine.step()
    consumer.revoke([("t", 1)])
    assert loaded_ids(loader) == list(range(50, 55))
    assert consumer.committed_store[("t", 1)][0] == 5
    assert ("t", 0) not in consumer.committed_store or consumer.committed_store[("t", 0)][0] == 0
    assert ("t", 1) not in engine._assigned


def test_lag_gauge_from_librdkafka_statistics():
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    engine = engine_for(consumer, FakeLoader())
    run_until_idle(engine, 5)
    engine.on_stats(
        json.dumps({"topics": {"t": {"partitions": {"0": {"hi_offset": 25}, "-1": {"hi_offset": 0}}}}})
    )
    assert engine.metrics.consumer_lag.labels("t", "0")._value.get() == 15  # 25 - committed 10
    engine.on_stats("not json")  # ignored


def test_lost_partitions_are_dropped_without_commit():
    consumer = FakeConsumer(logs={("t", 0): rows(5)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader)
    engine.step()
    consumer.callbacks["lost"](consumer, [TP("t", 0)])
    assert engine.buffers.partitions() == set()
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loader.calls == []
    assert consumer.committed_store.get(("t", 0), (0, ""))[0] == 0  # nothing of the lost partition


def test_dead_letter_write_failure_is_fatal_and_blocks_the_commit():
    class BrokenDlq:
        pending = True

        def send(self, record):
            pass

        def flush(self, timeout=30.0):
            raise FatalSinkError(
                "dead-letter topic 'dlq': 1 record(s) not acknowledged", reason="DeadLetterQueueFailed"
            )

        def close(self):
            pass

    sink = make_sink(converter={"valueFormat": "json_with_schema"}, errors={"tolerance": "all"})
    consumer = FakeConsumer(logs={("t", 0): [b"garbage", b'{"schema":null,"payload":{"id":1}}']})
    engine = Engine(
        sink,
        consumer=consumer,
        loader=FakeLoader(),
        retry_policy=fast_retry(),
        dead_letters=BrokenDlq(),
        options=EngineOptions(drain_timeout=1, commit_interval=0),
        topic_partition=TP,
        clock=Clock(),
    )
    engine.subscribe(["t"])
    consumer.assign_all()
    run_until_idle(engine, 3)
    assert "dead-letter" in str(engine.fatal)
    assert ("t", 0) not in consumer.committed_store


def test_async_commit_starts_a_load_only_after_its_range_is_acknowledged():
    consumer = FakeConsumer(logs={("t", 0): rows(25)})
    seen = []

    class Watching(FakeLoader):
        def load(self, table, body, label, n):
            meta = decode_metadata(consumer.committed_store[("t", 0)][1])
            seen.append((label, sorted(r for rs in meta.ranges.values() for r in rs)))
            return super().load(table, body, label, n)

    loader = Watching()
    engine = engine_for(consumer, loader, async_commit=True)
    consumer.on_commit = engine.on_commit
    engine.step()  # consumes 7: nothing cut yet
    while len(engine.buffers.partitions()) and not engine._gates:
        engine.step()
    assert engine._gates and loader.calls == []  # the batch waits for the commit answer
    run_until_idle(engine, 20)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == list(range(25))
    for label, ranges in seen:
        first, last = (int(x) for x in label.split("-")[-2:])
        assert (first, last) in ranges  # announced before it was loaded
    assert consumer.committed_store[("t", 0)][0] == 25


def test_unanswered_async_commit_releases_its_loads_after_the_timeout():
    clock = Clock()
    consumer = FakeConsumer(logs={("t", 0): rows(10)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader, clock=clock, async_commit=True, commit_gate_timeout=5)
    consumer.on_commit = lambda err, parts: None  # the answers never reach the engine
    for _ in range(4):
        engine.step()
    assert loader.calls == []
    clock.now = 6.0
    run_until_idle(engine, 5)
    assert loader.calls == ["tbl-t-0-0-9"]


def test_revoke_with_async_commits_in_flight_loads_and_commits_synchronously():
    consumer = FakeConsumer(logs={("t", 0): rows(10), ("t", 1): rows(4, 100)})
    loader = FakeLoader()
    engine = engine_for(consumer, loader, async_commit=True)
    consumer.on_commit = lambda err, parts: None  # answers arrive only after the revoke
    for _ in range(3):
        engine.step()
    assert loader.calls == []  # t[0] 0-9 waits for its commit answer
    consumer.revoke([("t", 0), ("t", 1)])
    assert sorted(loader.calls) == ["tbl-t-0-0-9", "tbl-t-1-0-3"]
    assert consumer.committed_store[("t", 0)][0] == 10
    assert consumer.committed_store[("t", 1)][0] == 4


# -- a schema registry that is unavailable: the partition waits, nothing is dead-lettered or skipped ------


class SeekingConsumer(FakeConsumer):
    """FakeConsumer plus seek(): the next consume() of the partition starts at the given offset."""

    def seek(self, partition: TP) -> None:
        self.positions[(partition.topic, partition.partition)] = partition.offset


@pytest.fixture(scope="module")
def _registry():
    server = SchemaRegistryServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def registry(_registry, monkeypatch):
    # The fake clock drives the engine's waits; the registry cache's fail-fast window runs on real time.
    monkeypatch.setattr("olapsink_worker.formats.registry.FAIL_FAST_S", 0.0)
    yield _registry
    _registry.available, _registry.failure = True, None


def _avro_engine(registry, log, clock, sent, **opts):
    sink = make_sink(
        converter={"valueFormat": "avro", "schemaRegistry": {"url": registry.url}},
        errors={"tolerance": "all"},
    )
    consumer = SeekingConsumer(logs=log)
    loader = FakeLoader()
    engine = engine_for(consumer, loader, sink=sink, clock=clock, **opts)
    engine.dead_letters._on_sent = sent.append
    return engine, consumer, loader


def _errors(engine, kind):
    return engine.metrics.registry.get_sample_value("olapsink_schema_registry_errors_total", {"kind": kind})


def test_registry_outage_holds_the_partition_back_and_loads_every_record_once_it_answers(registry):
    produce = avro_producer(registry, ORDER_V1, "t")
    clock, sent = Clock(), []
    engine, consumer, loader = _avro_engine(
        registry, {("t", 0): [produce(order(i)) for i in range(10)]}, clock, sent
    )
    registry.available = False
    for _ in range(3):
        run_until_idle(engine, 3)
        clock.now += 60  # each wait is over: the record is read again, and the registry still fails
    assert _errors(engine, "unavailable") >= 3
    assert ("t", 0) in consumer.paused and consumer.positions[("t", 0)] == 0
    assert "waiting for the schema registry" in (engine.waiting_reason() or "")
    assert consumer.committed_store.get(("t", 0), (0, ""))[0] == 0
    assert loaded_ids(loader) == [] and sent == [] and engine.fatal is None

    registry.available = True
    clock.now += 60
    run_until_idle(engine, 5)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == list(range(10))
    assert sent == [] and engine.waiting_reason() is None
    assert consumer.committed_store[("t", 0)][0] == 10


def test_loads_before_the_held_record_and_other_partitions_go_on_and_commit(registry):
    v1 = avro_producer(registry, ORDER_V1, "t")
    v2 = avro_producer(registry, ORDER_V2, "t")
    held_log = [v1(order(i)) for i in range(4)] + [v2(order(i, note="n")) for i in range(4, 8)]
    other_log = [v1(order(i)) for i in range(100, 106)]
    clock, sent = Clock(), []
    log = {("t", 0): held_log, ("t", 1): other_log}
    engine, consumer, loader = _avro_engine(registry, log, clock, sent)
    engine.decoder.decode(held_log[0], "t")  # schema v1 is known; v2 is asked for after the outage began
    registry.available = False
    run_until_idle(engine, 3)
    clock.now += 2  # the time trigger flushes what was read before the held record
    run_until_idle(engine, 3)
    assert loaded_ids(loader) == [0, 1, 2, 3, *range(100, 106)]
    assert consumer.committed_store[("t", 0)][0] == 4, "committed up to the held record, not past it"
    assert consumer.committed_store[("t", 1)][0] == 6
    assert sent == [] and engine.fatal is None

    registry.available = True
    clock.now += 60
    run_until_idle(engine, 5)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == [*range(8), *range(100, 106)]
    assert consumer.committed_store[("t", 0)][0] == 8 and sent == []


def test_an_outage_past_the_bound_stops_the_sink_keeping_the_offset(registry):
    produce = avro_producer(registry, ORDER_V1, "t")
    clock, sent = Clock(), []
    log = {("t", 0): [produce(order(i)) for i in range(5)]}
    engine, consumer, loader = _avro_engine(registry, log, clock, sent, registry_retry_timeout=30)
    registry.available = False
    for _ in range(10):
        run_until_idle(engine, 2)
        clock.now += 10
    assert engine.run() == EXIT_FATAL
    assert getattr(engine.fatal, "reason", None) == "SchemaRegistryUnavailable"
    assert registry.url in str(engine.fatal) and "t[0]@0" in str(engine.fatal)
    assert consumer.committed_store.get(("t", 0), (0, ""))[0] == 0
    assert loaded_ids(loader) == [] and sent == []


def test_refused_credentials_stop_the_sink_instead_of_dead_lettering(registry):
    produce = avro_producer(registry, ORDER_V1, "t")
    clock, sent = Clock(), []
    engine, consumer, _ = _avro_engine(registry, {("t", 0): [produce(order(1))]}, clock, sent)
    registry.failure = (401, 40101)
    run_until_idle(engine, 2)
    assert engine.run() == EXIT_FATAL
    assert getattr(engine.fatal, "reason", None) == "SchemaRegistryConfig"
    assert "basicAuthSecretRef" in str(engine.fatal)
    assert sent == [] and _errors(engine, "config") == 1
    assert consumer.committed_store.get(("t", 0), (0, ""))[0] == 0


def test_readyz_names_the_registry_and_the_held_partition_until_it_answers(registry):
    produce = avro_producer(registry, ORDER_V1, "t")
    clock, sent = Clock(), []
    log = {("t", 0): [produce(order(i)) for i in range(3)], ("t", 1): []}
    engine, _, loader = _avro_engine(registry, log, clock, sent)
    assert engine.health.ready() == (True, "ok")
    registry.available = False
    run_until_idle(engine, 3)
    ready, why = engine.health.ready()
    assert not ready and registry.url in why and "1 partition(s) held back, t[0] at offset 0" in why
    assert engine.health.alive()[0], "the loop turns: a liveness probe must not restart the pod"

    registry.available = True
    clock.now += 60
    run_until_idle(engine, 5)
    assert engine.health.ready() == (True, "ok")
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == [0, 1, 2] and sent == []


def test_a_partition_held_for_the_registry_and_revoked_is_read_again_when_it_comes_back(registry):
    # librdkafka keeps a pause across unassign and assign (the fake does too): a partition revoked while
    # held must not stay paused for good when the group gives it back.
    produce = avro_producer(registry, ORDER_V1, "t")
    clock, sent = Clock(), []
    log = {("t", 0): [produce(order(i)) for i in range(3)]}
    engine, consumer, loader = _avro_engine(registry, log, clock, sent)
    registry.available = False
    run_until_idle(engine, 3)
    assert ("t", 0) in consumer.paused
    consumer.revoke([("t", 0)])
    registry.available = True
    consumer.assign_all()
    assert ("t", 0) not in consumer.paused
    run_until_idle(engine, 5)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == [0, 1, 2] and sent == []


class RecordingEvolver:
    """SchemaEvolver's part the watch calls: which tables it was asked to check, and for which fields."""

    def __init__(self) -> None:
        self.ensured: list[tuple[str, list[str]]] = []

    def ensure(self, table, fields) -> None:
        self.ensured.append((str(table), [field["field"] for field in fields]))

    def close(self) -> None:
        pass


def test_a_registry_outage_at_the_schema_watchs_own_fetch_holds_the_partition_back(registry):
    from olapsink_worker.formats.registry import registry_client
    from olapsink_worker.schema.watch import AvroRegistrySchemas, SchemaWatch

    v1 = avro_producer(registry, ORDER_V1, "t")
    v2 = avro_producer(registry, ORDER_V2, "t")
    values = [v1(order(i)) for i in range(3)] + [v2(order(i, note="n")) for i in range(3, 6)]
    clock, sent = Clock(), []
    engine, consumer, loader = _avro_engine(registry, {("t", 0): values}, clock, sent)
    client = registry_client(engine.sink.spec.converter.schema_registry, retries=0)
    evolver = RecordingEvolver()
    engine.schema_watch = SchemaWatch(evolver, AvroRegistrySchemas(client, url=registry.url))
    table = engine.router.table_for_topic("t")
    engine.schema_watch.observe(table, values[0])  # the watch knows v1
    for value in (values[0], values[3]):
        engine.decoder.decode(value, "t")  # the decoder knows both: only the watch's fetch of v2 fails
    registry.available = False
    run_until_idle(engine, 3)
    clock.now += 2  # the time trigger flushes what was read before the held record
    run_until_idle(engine, 3)
    assert engine.fatal is None and sent == [], "neither stopped nor dead-lettered"
    assert loaded_ids(loader) == [0, 1, 2], "nothing past the held record is buffered"
    assert consumer.committed_store[("t", 0)][0] == 3 and consumer.positions[("t", 0)] == 3
    assert _errors(engine, "unavailable") >= 1

    registry.available = True
    clock.now += 60
    run_until_idle(engine, 5)
    engine.stop()
    assert engine.run() == EXIT_OK
    assert loaded_ids(loader) == list(range(6)) and sent == []
    assert consumer.committed_store[("t", 0)][0] == 6
    assert [fields for _, fields in evolver.ensured] == [
        [f["name"] for f in ORDER_V1["fields"]],
        [f["name"] for f in ORDER_V2["fields"]],
    ]
