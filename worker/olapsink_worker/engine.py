"""The worker loop: consume → decode → route → buffer → load → commit.

One thread runs the loop and owns every data structure (buffers, offset tracker, queues). Loads run on a
small thread pool, one at a time per (partition, table) so rows of a key land in offset order; the loop
never waits on the database, so consumption, time-triggered flushes and commits go on while loads run.

Order of events for a batch:

1. rows are appended to their (topic, partition, table) buffer; a trigger cuts the batch;
2. its offset range is committed in the partition's commit metadata (offsets.py) — **before** the load,
   so a crash mid-load is replayed with the same batch boundaries and label;
3. the load runs (retries with backoff, same label); on a durable result the batch is marked done;
4. the committed offset moves to the lowest offset still not durable.

With ``deliveryGuarantee: exactly_once`` step 3 is split (exactly_once.py, docs/exactly-once.md): the load
thread precommits; the loop records the range as precommitted with a synchronous offset commit; a load
thread commits the transaction; then step 4. Commits are synchronous in that mode.

Errors: a record that cannot be decoded or routed, and rows a load rejects, go to the dead-letter topic
with ``errors.tolerance: all``, else they stop the sink. A record whose schema registry is unavailable is
neither: its partition is paused and sought back to it until the registry answers (formats/outage.py).
A fatal load error (or retries exhausted) stops consuming at once, waits briefly for the other loads, commits
only what is durable, records the error (log, /readyz, the ``olapsink_fatal`` metric, the status file) and
makes ``run`` return exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby, repeat
from pathlib import Path
from typing import Any

from olapsink_worker.buffer import ROW_OVERHEAD, Batch, BatchKey, Buffers, FlushPolicy, TopicPartition
from olapsink_worker.deadletter import DeadLetterQueue, DeadRecord
from olapsink_worker.decode import Decoder
from olapsink_worker.errors import (
    ConfigError,
    ConfigProblem,
    FatalSinkError,
    RecordError,
    RegistryConfigError,
    RegistryUnavailableError,
    SchemaUnusableError,
)
from olapsink_worker.exactly_once import (
    UNDECIDED_POLICIES,
    Action,
    CrashPoints,
    TwoPhase,
    decide,
    undecided_action,
)
from olapsink_worker.formats.outage import RegistryOutage, retry_bound
from olapsink_worker.health import Health
from olapsink_worker.metrics import WorkerMetrics
from olapsink_worker.offsets import OffsetTracker, decode_metadata
from olapsink_worker.rejected import match_rejected
from olapsink_worker.route import Router
from olapsink_worker.tables import TableRef

log = logging.getLogger("olapsink.engine")

EXIT_OK = 0
EXIT_FATAL = 2


@dataclass(frozen=True)
class EngineOptions:
    #: Records per consume() call. consume() builds its Message objects in one C call holding the GIL, so
    #: a load thread waiting to resume (after each socket send) waits that long: 2,000 (~1 ms) gave
    #: shorter loads and more records per CPU-second than 10,000 in bench/worker.py (docs/worker.md).
    consume_batch: int = 2_000
    load_threads: int = 2
    #: Longest time a revoke or a shutdown waits for loads before giving the partitions up.
    drain_timeout: float = 25.0
    #: Offsets that only moved (no new batch to announce) are committed at most this often.
    commit_interval: float = 1.0
    status_file: str | None = None
    #: Commit asynchronously and start a batch's load when the commit of its range is acknowledged (the
    #: consumer must call ``Engine.on_commit``), instead of blocking the loop ~10 ms per commit.
    async_commit: bool = False
    #: A load whose announcing commit was not acknowledged within this time starts anyway.
    commit_gate_timeout: float = 10.0
    #: Exactly-once: what to do with a precommitted range whose label the database forgot
    #: (exactly_once.UNDECIDED_POLICIES; "fail" stops the sink and says how to decide).
    undecided: str = "fail"
    #: Longest a partition waits for an unavailable schema registry before the sink stops, in seconds
    #: (None: $OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT, else 300).
    registry_retry_timeout: float | None = None


@dataclass
class _Gate:
    """An asynchronous commit in flight and the batches whose loads wait for it."""

    sent: float
    batches: list[Batch]
    partitions: list[TopicPartition]


@dataclass
class _Done:
    batch: Batch
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    #: Exactly-once: the load thread precommitted the batch; its commit waits for the record.
    precommitted: bool = False


class Engine:
    """Runs one sink. ``consumer`` is a confluent_kafka.Consumer (or a test double with the same calls)."""

    def __init__(
        self,
        sink: Any,
        *,
        consumer: Any,
        loader: Any,
        retry_policy: Any,
        dead_letters: DeadLetterQueue | None = None,
        metrics: WorkerMetrics | None = None,
        health: Health | None = None,
        options: EngineOptions | None = None,
        topic_partition: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        schema_watch: Any = None,
    ) -> None:
        self.sink = sink
        self.options = options or EngineOptions()
        self.exactly_once = str(getattr(sink.spec, "delivery_guarantee", "")) == "exactly_once"
        if self.exactly_once:
            # The precommit mark must be confirmed before the database commit: commits are synchronous.
            self.options = dataclasses.replace(self.options, async_commit=False)
        if self.options.undecided not in UNDECIDED_POLICIES:
            raise ConfigError(
                ConfigProblem(
                    "OLAPSINK_EXACTLY_ONCE_UNDECIDED", f"must be one of {', '.join(UNDECIDED_POLICIES)}"
                )
            )
        self.registry_outage = RegistryOutage(retry_bound(self.options.registry_retry_timeout))
        self.two_phase = TwoPhase(loader, retry_policy)
        self.crash = CrashPoints.from_env()
        # Exactly-once: precommitted batches whose mark is not yet committed to Kafka.
        self._to_record: list[Batch] = []
        self.consumer = consumer
        self.loader = loader
        self.retry = retry_policy
        self.metrics = metrics or WorkerMetrics()
        self.health = health or Health()
        self.clock = clock
        spec = sink.spec
        self.decoder = Decoder.for_sink(sink)
        # schema.SchemaWatch: adds (or checks) columns before rows of a new record schema are buffered.
        self.schema_watch = schema_watch
        self.router = Router.for_sink(sink)
        self.tolerate = str(spec.errors.tolerance) == "all"
        self.log_errors = bool(spec.errors.log_errors)
        self.dead_letters = dead_letters or DeadLetterQueue(None, None)
        self.budget = int(spec.buffer.memory_budget_bytes)
        self.buffers = Buffers(
            FlushPolicy(
                max_records=spec.buffer.records,
                max_bytes=int(spec.buffer.bytes),
                interval=spec.buffer.flush_interval_ms / 1000.0,
            ),
            clock,
        )
        self.tracker = OffsetTracker()
        if topic_partition is None:
            from confluent_kafka import TopicPartition as KafkaTopicPartition

            topic_partition = KafkaTopicPartition
        self._tp: Callable[..., Any] = topic_partition
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.load_threads, thread_name_prefix="olapsink-load"
        )
        self._done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self._inflight: dict[BatchKey, Batch] = {}
        self._waiting: dict[BatchKey, deque[Batch]] = {}
        self._to_submit: list[Batch] = []
        self._pending_memory = 0  # cut batches (waiting or in flight)
        self._assigned: set[TopicPartition] = set()
        self._paused = False
        self._last_commit = float("-inf")
        self._stop = threading.Event()
        self.fatal: BaseException | None = None
        self._closing = False
        self._draining = False
        # Async commits in flight, oldest first (librdkafka answers them in order): when each was sent,
        # the batches waiting for it, and its partitions.
        # Entries stay until their answer arrives, so that answers and entries keep matching.
        self._gates: deque[_Gate] = deque()
        self._hi_offsets: dict[TopicPartition, int] = {}
        # Memory per buffered record, learnt as records arrive; starts high so that the first consume
        # cannot overshoot a small budget before anything is known.
        self._avg_record = 4096.0
        self._single_topic: str | None = None
        # When the current consume() was called: its records arrived no earlier (see Buffers.add).
        self._polled_at: float | None = None
        self.metrics.memory_budget_bytes.set(self.budget)

    # -- lifecycle ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to flush, commit and return (safe from a signal handler)."""
        self._stop.set()

    def subscribe(self, topics: Sequence[str]) -> None:
        only = list(topics)
        self._single_topic = only[0] if len(only) == 1 and not only[0].startswith("^") else None
        self.consumer.subscribe(
            list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def run(self) -> int:
        """Loop until ``stop()`` or a fatal error; returns the process exit code."""
        try:
            while not self._stop.is_set() and self.fatal is None:
                self.step()
        except (FatalSinkError, ConfigError) as exc:
            self._set_fatal(exc)
        except Exception as exc:  # a bug: stop like a fatal error, keep offsets, say where
            log.exception("internal error in the engine loop")
            self._set_fatal(FatalSinkError(f"internal error: {exc!r}", reason="InternalError"))
        finally:
            self._shutdown()
        return EXIT_FATAL if self.fatal is not None else EXIT_OK

    def step(self) -> None:
        """One turn of the loop (public for tests)."""
        self.health.beat()
        self.metrics.loop_heartbeat.set(time.time())
        if self.registry_outage.partitions:
            self._resume_after_registry_wait()
        self._polled_at = self.clock()
        messages = self.consumer.consume(self._consume_size(), self._poll_timeout())
        if messages:
            try:
                self._ingest(messages)
            except (FatalSinkError, ConfigError) as exc:
                self._set_fatal(exc)
        if self.registry_outage.partitions or self.health.waiting is not None:
            # /readyz says why (a string: the HTTP thread never reads the outage's dict).
            self.health.waiting = self.waiting_reason()
        self._harvest()
        if self.fatal is not None:
            return
        self._to_submit.extend(self.buffers.due(self.clock()))
        self._apply_budget()
        self._launch()
        self._commit(force=False)
        self._release_stale_gates()

    def _consume_size(self) -> int:
        """Fewer records per consume() when the budget is nearly used, so that one consume batch cannot
        overshoot it by much (a 2,000-record batch of 1 MB values is 2 GB)."""
        free = self.budget - self.memory_in_use()
        fits = int(free // max(1.0, self._avg_record))
        return max(100, min(self.options.consume_batch, fits))

    def _poll_timeout(self) -> float:
        if self._waiting:
            # A finished load is only harvested (and the next batch of its key started) when consume()
            # returns; with the partitions paused or caught up it waits the whole timeout, which would
            # idle the key's serial loads ~25 ms each.
            return 0.005
        if self._inflight or self._to_submit:
            return 0.05
        due = self.buffers.next_due()
        if due is None:
            return 0.5
        return min(0.5, max(0.0, due - self.clock()))

    # -- consume → decode → route → buffer ------------------------------------------------------------

    def _ingest(self, messages: list[Any]) -> None:
        # Message methods are called through map() on the class (one C call per record, no bytecode):
        # at ~1M records/s each per-record Python expression costs several % of the loop.
        message_type = type(messages[0])
        if list(map(message_type.error, messages)).count(None) != len(messages):
            messages = self._drop_errors(messages)
            if not messages:
                return
        if self._single_topic is not None:
            # One topic: the partition alone names the run (topic() builds a new str per call: ~25% of
            # the loop's time at 1M records/s).
            topic = self._single_topic
            keys: list[Any] = list(map(message_type.partition, messages))
        else:
            keys = [(m.topic(), m.partition()) for m in messages]
        start = 0
        for key, group in groupby(keys):
            count = sum(1 for _ in group)
            run = messages[start : start + count] if count != len(messages) else messages
            start += count
            tp = (topic, key) if self._single_topic is not None else key
            if tp not in self._assigned:
                continue  # revoked while these were in flight
            held = self.registry_outage.partitions
            if held and self.registry_outage.held(tp):
                continue  # read again from the held record once the registry answers
            self._ingest_run(tp, run)
            if held and tp in held:
                self.registry_outage.passed(tp, self.clock())

    def _drop_errors(self, messages: list[Any]) -> list[Any]:
        kept = []
        for m in messages:
            err = m.error()
            if err is None:
                kept.append(m)
            elif err.fatal():
                raise FatalSinkError(f"Kafka consumer failed: {err.str()}", reason="KafkaError")
            else:
                log.warning("Kafka consumer error (librdkafka retries it): %s", err.str())
        return kept

    def _ingest_run(self, tp: TopicPartition, run: list[Any]) -> None:
        topic, partition = tp
        values = list(map(type(run[0]).value, run))
        self.metrics.records_consumed.labels(topic).inc(len(run))
        if self.decoder.passthrough and not self.router.by_field and None not in values:
            nbytes = sum(map(len, values))
            self.metrics.bytes_consumed.labels(topic).inc(nbytes)
            self._avg_record = 0.8 * self._avg_record + 0.2 * (nbytes / len(values) + ROW_OVERHEAD)
            key = BatchKey(topic, partition, self.router.table_for_topic(topic))
            self._to_submit.extend(self.buffers.add(key, values, lambda i: run[i].offset(), self._polled_at))
            self.tracker.consumed(tp, run[-1].offset())
            return
        nbytes = sum(len(v) for v in values if v is not None)
        self.metrics.bytes_consumed.labels(topic).inc(nbytes)
        self._avg_record = 0.8 * self._avg_record + 0.2 * (nbytes / len(values) + ROW_OVERHEAD)
        default_table = self.router.table_for_topic(topic)
        if not self.router.by_field and self.schema_watch is None and self._decode_run(tp, run, values):
            return
        by_table: dict[TableRef, tuple[list[bytes], list[int]]] = {}
        last = run[-1].offset()
        for m, value in zip(run, values, strict=True):
            try:
                row = self.decoder.decode(value, topic)
                if row is None:
                    self.metrics.records_skipped.labels(topic).inc()
                    continue
                table = self.router.table_for_row(topic, row) if self.router.by_field else default_table
                if self.schema_watch is not None:
                    # The decoder kept the value's schema key: no second parse of the envelope.
                    self.schema_watch.observe_schema(table, self.decoder.schema_key)
            except RecordError as exc:
                if isinstance(exc, SchemaUnusableError):
                    self.metrics.schema_registry_errors.labels("unusable").inc()
                self._record_failed(m, exc, "decode")
                continue
            except RegistryUnavailableError as exc:
                self._wait_for_registry(tp, m.offset(), exc)
                last = m.offset() - 1  # what came before it is buffered; it and the rest are read again
                break
            except RegistryConfigError:
                self.metrics.schema_registry_errors.labels("config").inc()
                raise
            rows, offsets = by_table.setdefault(table, ([], []))
            rows.append(row)
            offsets.append(m.offset())
        for table, (rows, offsets) in by_table.items():
            key = BatchKey(topic, partition, table)
            self._to_submit.extend(self.buffers.add(key, rows, offsets.__getitem__, self._polled_at))
        # Only now: a record that stopped the sink above must not be covered by a commit.
        self.tracker.consumed(tp, last)

    def _decode_run(self, tp: TopicPartition, run: list[Any], values: list[bytes | None]) -> bool:
        """One table, no schema watch: decode the whole run with one map() (~0.4 us per record less than
        the loop with its per-record bookkeeping). False when a record failed: the caller's per-record
        loop then decodes the run again (decoding is deterministic) and handles it, naming its offset."""
        topic, partition = tp
        try:
            rows = list(map(self.decoder.decode, values, repeat(topic)))
        except (RecordError, RegistryUnavailableError, RegistryConfigError):
            return False
        skipped = rows.count(None)
        offset_at: Callable[[int], int]
        if skipped:
            self.metrics.records_skipped.labels(topic).inc(skipped)
            offsets = [m.offset() for m, row in zip(run, rows, strict=True) if row is not None]
            rows = [row for row in rows if row is not None]
            offset_at = offsets.__getitem__
        else:
            offset_at = lambda i: run[i].offset()  # noqa: E731 - only first/last and bisection probes
        if rows:
            key = BatchKey(topic, partition, self.router.table_for_topic(topic))
            self._to_submit.extend(self.buffers.add(key, rows, offset_at, self._polled_at))  # type: ignore[arg-type]
        self.tracker.consumed(tp, run[-1].offset())
        return True

    def _wait_for_registry(self, tp: TopicPartition, offset: int, exc: RegistryUnavailableError) -> None:
        """Hold ``tp`` back at ``offset`` until the registry may answer: pause it and seek back to it, so
        that it is read again and nothing past it is committed. Raises FatalSinkError past the bound."""
        self.metrics.schema_registry_errors.labels("unavailable").inc()
        self.registry_outage.failed(tp, offset, exc, self.clock())
        part = self._tp(tp[0], tp[1], offset)
        self.consumer.pause([part])
        self.consumer.seek(part)

    def _resume_after_registry_wait(self) -> None:
        due = self.registry_outage.due(self.clock())
        # Paused for memory or stopped: the budget's resume (or nobody) resumes them.
        if due and not self._paused and self.fatal is None:
            self.consumer.resume([self._tp(t, p) for t, p in due])

    def waiting_reason(self) -> str | None:
        """Why the sink is not ready although it runs (a partition waits for the schema registry)."""
        return self.registry_outage.reason(self.clock())

    def _record_failed(self, message: Any, exc: RecordError, stage: str) -> None:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        where = RecordError(exc.reason, topic=topic, partition=partition, offset=offset)
        if not self.tolerate:
            raise FatalSinkError(
                f"{where}; set spec.errors.tolerance: all to dead-letter such records instead",
                reason="RecordFailed",
            ) from exc
        if self.log_errors:
            log.warning("skipping record: %s", where)
        self.dead_letters.send(
            DeadRecord(
                topic=topic,
                partition=partition,
                offset=offset,
                value=message.value(),
                key=message.key(),
                stage=stage,
                error_class=type(exc).__name__,
                message=exc.reason,
            )
        )
        self.metrics.records_dead_lettered.labels(topic, stage).inc()

    # -- memory budget ----------------------------------------------------------------------------------

    def memory_in_use(self) -> int:
        return self.buffers.memory + self._pending_memory

    def _apply_budget(self) -> None:
        used = self.memory_in_use()
        self.metrics.buffer_bytes.set(used)
        if used >= self.budget:
            # Cut the biggest open buffers so that the memory can drain through loads...
            target = max(0, (self.budget - self._pending_memory) // 2)
            self._to_submit.extend(self.buffers.cut_largest(target))
            # ...and stop reading until it has.
            if not self._paused:
                self._set_paused(True)
        elif self._paused and used <= self.budget * 0.6:
            self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        held = self.registry_outage.held
        tps = [self._tp(t, p) for t, p in sorted(self._assigned) if paused or not held((t, p))]
        if tps:
            (self.consumer.pause if paused else self.consumer.resume)(tps)
        self._paused = paused
        self.metrics.paused_partitions.set(len(tps) if paused else 0)
        log.info(
            "%s %d partitions (memory %d of budget %d bytes)",
            "paused" if paused else "resumed",
            len(tps),
            self.memory_in_use(),
            self.budget,
        )

    # -- loads ----------------------------------------------------------------------------------------

    def _launch(self) -> None:
        """Announce newly cut batches in the commit metadata, then start their loads."""
        if not self._to_submit:
            return
        batches, self._to_submit = self._to_submit, []
        for batch in batches:
            recorded = self.tracker.pending(batch)
            if self.exactly_once:
                batch.recorded_precommit = recorded
            self._pending_memory += batch.memory
        if self._commit(force=True, gate=batches):
            return  # the loads start when the commit is acknowledged (on_commit)
        if self.exactly_once:
            self.crash.reached("after_announce")
        self._start_all(batches)

    def _start_all(self, batches: list[Batch]) -> None:
        if self.fatal is not None:
            return  # they stay pending: never committed past, loaded again after a restart
        for batch in batches:
            if batch.key in self._inflight:
                self._waiting.setdefault(batch.key, deque()).append(batch)
            else:
                self._start(batch)

    def _start(self, batch: Batch) -> None:
        self._inflight[batch.key] = batch
        self._pool.submit(self._load_task, batch)

    def _load_task(self, batch: Batch) -> None:
        """Runs on a load thread; reports through the done queue, never raises."""
        started = time.monotonic()
        try:
            if self.exactly_once:
                result, precommitted = self._load_exactly_once(batch)
                self._done.put(
                    _Done(batch, result, seconds=time.monotonic() - started, precommitted=precommitted)
                )
                return
            result = self._load(batch)
            self._done.put(_Done(batch, result=result, seconds=time.monotonic() - started))
        except BaseException as exc:
            self._done.put(_Done(batch, error=exc, seconds=time.monotonic() - started))

    def _label(self, batch: Batch) -> str:
        key = batch.key
        return str(self.loader.label_for(key.table, [(key.topic, key.partition, batch.first, batch.last)]))

    def _describe(self, batch: Batch, label: str) -> str:
        key = batch.key
        return f"load {label} ({batch.count} rows of {key.topic}[{key.partition}] {batch.first}-{batch.last})"

    def _load_exactly_once(self, batch: Batch) -> tuple[Any, bool]:
        """One exactly-once step of ``batch`` on a load thread: (result, True) when it was precommitted
        and its commit must wait for the record; (result, False) when its rows are visible (or were all
        dead-lettered: result None)."""
        from olapsink_worker.load import LoadResult, RetriesExhaustedError

        key = batch.key
        label = self._label(batch)
        describe = self._describe(batch, label)
        try:
            if batch.stage == "commit":
                if self.two_phase.commit(key.table, label, describe):
                    return dataclasses.replace(batch.loaded, status="Success"), False
                log.warning("%s: its transaction was aborted before the commit; loading it again", describe)
            elif batch.recorded_precommit is not None:
                action = self._settle_recorded(batch, label, describe)
                log.info("%s was recorded precommitted: %s", describe, action.value)
                if action is Action.SKIP:
                    return LoadResult(label=label, status="VISIBLE", duplicate=True), False
                if action is Action.COMMIT:
                    if self.two_phase.commit(key.table, label, describe):
                        return LoadResult(label=label, status="COMMITTED", duplicate=True), False
                    log.warning("%s: aborted before the recovery could commit it; loading it again", describe)
        except RetriesExhaustedError as exc:
            raise FatalSinkError(
                f"{describe}: gave up after {exc.attempts} attempts: {exc.last}", reason="LoadFailed"
            ) from exc
        batch.stage = "precommit"
        result = self._load(batch, self.loader.precommit)
        if result is None or result.duplicate:
            return result, False  # all rows dead-lettered, or the label's rows are already visible
        return result, True

    def _settle_recorded(self, batch: Batch, label: str, describe: str) -> Action:
        """What to do with a range a previous owner recorded as precommitted (exactly_once.decide)."""
        from olapsink_worker.errors import RetryableLoadError

        def ask() -> Action:
            action = decide(self.loader.label_state(batch.key.table.database, label))
            if action is Action.WAIT:
                raise RetryableLoadError(f"{describe}: label {label} is still being written", delay=1.0)
            return action

        action: Action = self.retry.run(ask, describe=f"label state of {describe}")
        if action is Action.UNDECIDABLE:
            age = time.time() - float(batch.recorded_precommit or 0)
            span = f"{batch.key.topic}[{batch.key.partition}] {batch.first}-{batch.last}"
            action = undecided_action(self.options.undecided, label, batch.key.table, span, age)
        return action

    def _load(self, batch: Batch, attempt: Callable[..., Any] | None = None) -> Any:
        """Load ``batch`` (``attempt`` is the loader call: ``load``, or ``precommit`` for exactly-once),
        dead-lettering rejected rows when tolerated."""
        from olapsink_worker.load import RetriesExhaustedError, RowsRejectedError

        key = batch.key
        call = attempt or self.loader.load
        label = self._label(batch)
        rows: list[bytes] = batch.rows
        describe = self._describe(batch, label)
        while True:
            body = self.loader.frame(rows)
            count = len(rows)
            try:
                result = self.retry.run(
                    lambda body=body, count=count: call(key.table, body, label, count),
                    describe=describe,
                )
            except RetriesExhaustedError as exc:
                raise FatalSinkError(
                    f"{describe}: gave up after {exc.attempts} attempts: {exc.last}", reason="LoadFailed"
                ) from exc
            except RowsRejectedError as exc:
                if not self.tolerate:
                    raise FatalSinkError(
                        f"{exc}; fix the rows, or set spec.errors.tolerance: all to dead-letter them",
                        reason="RowsRejected",
                    ) from exc
                rows = self._dead_letter_rejected(batch, rows, label, exc)
                if not rows:
                    return None
                continue  # the rest, under the same label: a failed load leaves the label free
            if result.filtered_rows and self.tolerate and result.error_url:
                self._dead_letter_filtered(batch, rows, label, result.error_url)
            return result

    def _dead_letter_rejected(self, batch: Batch, rows: list[bytes], label: str, exc: Any) -> list[bytes]:
        """Send the rejected rows to the dead-letter topic; return the rows still to load."""
        found = match_rejected(rows, exc.rejected_rows)
        if not found.reasons:
            # Cannot tell which rows: the whole batch goes to the dead-letter topic, nothing is reloaded.
            reason = exc.rejected_rows[0] if exc.rejected_rows else str(exc)
            for i, row in enumerate(rows):
                self._send_dead_row(batch, rows, i, row, label, exc.error_url, reason)
            return []
        for i, reason in found.reasons.items():
            self._send_dead_row(batch, rows, i, rows[i], label, exc.error_url, reason)
        return [row for i, row in enumerate(rows) if i not in found.reasons]

    def _dead_letter_filtered(self, batch: Batch, rows: list[bytes], label: str, error_url: str) -> None:
        """Rows the database filtered within max_filter_ratio: the load succeeded without them."""
        found = match_rejected(rows, self.loader.fetch_error_rows(error_url))
        for i, reason in found.reasons.items():
            self._send_dead_row(batch, rows, i, rows[i], label, error_url, reason)

    def _send_dead_row(
        self,
        batch: Batch,
        rows: list[bytes],
        index: int,
        row: bytes,
        label: str,
        url: str | None,
        reason: str,
    ) -> None:
        # Row i has a known offset only while the batch is whole and dense (no rows removed, no gaps).
        offset = batch.offset_of(index) if rows is batch.rows else None
        self.dead_letters.send(
            DeadRecord(
                topic=batch.key.topic,
                partition=batch.key.partition,
                offset=offset,
                value=row,
                key=None,
                stage="load",
                error_class="RowsRejectedError",
                message=reason,
                offset_range=(batch.first, batch.last),
                label=label,
                error_url=url,
            )
        )
        self.metrics.records_dead_lettered.labels(batch.key.topic, "load").inc()

    def _harvest(self, block: float = 0.0) -> None:
        """Take finished loads: mark them durable, start the next batch of the same key."""
        while True:
            try:
                done = self._done.get(timeout=block) if block else self._done.get_nowait()
            except queue.Empty:
                break
            block = 0.0
            batch = done.batch
            if done.precommitted and done.error is None:
                if not self._precommitted(batch, done.result):
                    # Neither committed nor durable: the offset must stay at or below its first offset.
                    self._inflight.pop(batch.key, None)
                    self._pending_memory -= batch.memory
                continue
            self._inflight.pop(batch.key, None)
            self._pending_memory -= batch.memory
            table = str(batch.key.table)
            if done.error is not None:
                self.metrics.loads.labels(table, "failed").inc()
                self._set_fatal(done.error)
                continue
            result = done.result
            self.tracker.durable(batch)
            self.metrics.load_seconds.labels(table).observe(done.seconds)
            self.metrics.batch_rows.observe(batch.count)
            if result is None:  # every row dead-lettered
                self.metrics.loads.labels(table, "dead_lettered").inc()
            else:
                status = "duplicate" if result.duplicate else str(result.status)
                self.metrics.loads.labels(table, status).inc()
                self.metrics.records_loaded.labels(table).inc(batch.count)
                self.metrics.bytes_loaded.labels(table).inc(batch.nbytes)
                if result.filtered_rows:
                    self.metrics.records_filtered.labels(table).inc(result.filtered_rows)
                    log.warning(
                        "load %s into %s: %d rows filtered (%s)",
                        result.label,
                        table,
                        result.filtered_rows,
                        result.error_url,
                    )
                log.debug("loaded %s: %d rows into %s (%s)", result.label, batch.count, table, status)
            batch.rows = []  # release the memory now, the tracker keeps only the range
            if self.exactly_once:
                self.crash.reached("after_commit")
                self._last_commit = float("-inf")  # move the offset past it at once: shorter recoveries
            waiting = self._waiting.get(batch.key)
            if waiting and self.fatal is None:
                self._start(waiting.popleft())
                if not waiting:
                    del self._waiting[batch.key]
        self._record_precommits()

    def _precommitted(self, batch: Batch, result: Any) -> bool:
        """A load thread precommitted ``batch``: queue its mark for the next synchronous commit (True),
        or leave the transaction to whoever settles the partition next (False: revoked, or stopping)."""
        if self.fatal is not None or batch.key.tp not in self._assigned:
            log.warning(
                "%s stays precommitted: the partition's next owner (or the restart) settles it",
                self._describe(batch, self._label(batch)),
            )
            return False
        self.crash.reached("after_precommit")
        batch.loaded = result
        batch.stage = "commit"
        self.tracker.precommitted(batch, int(time.time()))
        self._to_record.append(batch)
        return True

    def _record_precommits(self) -> None:
        """Commit the precommit marks synchronously, then let the transactions be committed. Until
        Kafka has the mark no transaction is committed: recovery must know that it may have been."""
        if not self._to_record:
            return
        batches, self._to_record = self._to_record, []
        if self.fatal is not None:
            for batch in batches:  # left precommitted: the restart settles them
                self._inflight.pop(batch.key, None)
                self._pending_memory -= batch.memory
            return
        if not self._commit(force=True, only={b.key.tp for b in batches}, sync=True):
            self._to_record = batches  # try again at the next turn; the transactions wait meanwhile
            return
        self.crash.reached("after_record")
        for batch in batches:
            self._pool.submit(self._load_task, batch)

    def _set_fatal(self, exc: BaseException) -> None:
        if self.fatal is not None:
            return
        self.fatal = exc
        reason = getattr(exc, "reason", type(exc).__name__)
        log.error("sink stopped (%s): %s", reason, exc)
        self.health.fatal = f"{reason}: {exc}"
        self.metrics.fatal.set(1)
        self._write_status({"state": "Failed", "reason": reason, "message": str(exc)})
        # Stop reading at once; what is already buffered stays uncommitted and is read again later.
        if self._assigned and not self._paused:
            try:
                self._set_paused(True)
            except Exception as pause_error:
                log.warning("could not pause partitions: %s", pause_error)

    def _write_status(self, status: dict[str, Any]) -> None:
        path = self.options.status_file
        if not path:
            return
        try:
            Path(path).write_text(json.dumps(status)[:4000] + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("could not write the status file %s: %s", path, exc)

    # -- commits ----------------------------------------------------------------------------------------

    def _async(self) -> bool:
        return self.options.async_commit and not self._draining

    def _commit(
        self,
        *,
        force: bool,
        only: set[TopicPartition] | None = None,
        gate: list[Batch] | None = None,
        sync: bool = False,
    ) -> bool:
        """Commit every partition whose (offset, metadata) changed. True when an asynchronous commit was
        sent with ``gate``: those batches start on its acknowledgement. With ``sync``: True when the
        commit was made (or nothing had changed)."""
        now = self.clock()
        if not force and now - self._last_commit < self.options.commit_interval:
            return False
        points = []
        for tp in self.tracker.partitions():
            if only is not None and tp not in only:
                continue
            point = self.tracker.commit_point(tp, self.buffers.open_first(tp))
            if point is not None:
                points.append((tp, point))
        self._last_commit = now
        if not points:
            return sync
        try:
            if self.dead_letters.pending:
                self.dead_letters.flush()
        except FatalSinkError as exc:
            self._set_fatal(exc)
            return False
        offsets = [self._tp(t, p, offset, metadata=meta) for (t, p), (offset, meta) in points]
        asynchronous = self._async() and not sync
        try:
            self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except Exception as exc:  # KafkaException: rebalance in progress, coordinator moved, ...
            # Not fatal: the offsets are committed at the next turn; a crash before that replays more.
            self.metrics.commits.labels("failed").inc()
            log.warning("offset commit failed (will retry): %s", exc)
            return False
        if asynchronous:
            # Marked as committed now so that it is not sent again; on_commit undoes it on failure.
            self._gates.append(_Gate(now, list(gate or []), [tp for tp, _ in points]))
            if len(self._gates) > 10_000:  # answers that never came: forget the oldest (already started)
                self._gates.popleft()
        else:
            self.metrics.commits.labels("ok").inc()
        self._mark_committed(points)
        return sync or (asynchronous and gate is not None)

    def on_commit(self, err: Any, partitions: list[Any]) -> None:
        """librdkafka's commit callback (``on_commit``): an async commit was answered; start the loads
        that waited for it. On failure they start anyway (a crash would then only replay them under
        other boundaries, never lose them) and the offsets are sent again at the next commit."""
        if not self._gates:
            return
        gate = self._gates.popleft()
        failed = err is not None or any(getattr(p, "error", None) for p in partitions)
        if failed:
            self.metrics.commits.labels("failed").inc()
            log.warning("offset commit failed (will retry): %s", err or [str(p) for p in partitions])
            for tp in gate.partitions:
                self.tracker.unmark_committed(tp)
        else:
            self.metrics.commits.labels("ok").inc()
        self._release(gate)

    def _release(self, gate: _Gate) -> None:
        batches, gate.batches = gate.batches, []
        self._start_all(batches)

    def _release_stale_gates(self) -> None:
        now = self.clock()
        for gate in self._gates:
            if now - gate.sent <= self.options.commit_gate_timeout:
                break
            if gate.batches:
                log.warning("no answer to an offset commit for %.0fs; starting its loads", now - gate.sent)
                self._release(gate)

    def _release_all_gates(self) -> None:
        """Before draining: commit synchronously (it covers every pending range) and start what waited."""
        if not any(gate.batches for gate in self._gates):
            return
        self._commit(force=True)
        for gate in self._gates:
            self._release(gate)

    def _mark_committed(self, points: list[tuple[TopicPartition, tuple[int, str]]]) -> None:
        for tp, point in points:
            self.tracker.mark_committed(tp, point)
            self.metrics.committed_offset.labels(tp[0], str(tp[1])).set(point[0])
            hi = self._hi_offsets.get(tp)
            if hi is not None:
                self.metrics.consumer_lag.labels(tp[0], str(tp[1])).set(max(0, hi - point[0]))

    def on_stats(self, stats_json: str) -> None:
        """librdkafka statistics callback: high watermarks for the lag gauge."""
        try:
            stats = json.loads(stats_json)
            for topic, tstats in stats.get("topics", {}).items():
                for pid, pstats in tstats.get("partitions", {}).items():
                    part = int(pid)
                    hi = pstats.get("hi_offset", -1)
                    if part < 0 or hi is None or hi < 0 or (topic, part) not in self._assigned:
                        continue
                    self._hi_offsets[(topic, part)] = hi
                    committed = self.tracker.committed((topic, part))
                    if committed is not None:
                        self.metrics.consumer_lag.labels(topic, str(part)).set(max(0, hi - committed))
        except (ValueError, TypeError, AttributeError) as exc:
            log.debug("unreadable librdkafka statistics: %s", exc)

    # -- draining (revoke, shutdown, fatal) ---------------------------------------------------------------

    def _drain(self, tps: set[TopicPartition] | None, deadline: float) -> bool:
        """Flush the open batches of ``tps`` (all when None), wait for their loads until ``deadline``,
        commit what is durable. True when nothing of them is left pending."""
        draining, self._draining = self._draining, True
        try:
            return self._drain_sync(tps, deadline)
        finally:
            self._draining = draining

    def _drain_sync(self, tps: set[TopicPartition] | None, deadline: float) -> bool:
        self._release_all_gates()
        if self.fatal is None:
            self._to_submit.extend(
                self.buffers.cut_partitions(
                    tps if tps is not None else self.buffers.partitions(), keep_replay=self.exactly_once
                )
            )
            self._launch()

        def left() -> bool:
            if tps is None:
                return bool(self._inflight)
            return any(k.tp in tps for k in self._inflight)

        while left() and self.clock() < deadline:
            self._harvest(block=min(0.2, max(0.01, deadline - self.clock())))
            self.health.beat()
        self._commit(force=True, only=tps)
        return not left()

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.health.joined = True
        if partitions:
            try:
                committed = consumer.committed(partitions, timeout=30)
            except Exception as exc:
                # Without the plan a replay is only less deduplicated (at-least-once still holds).
                log.warning("could not read committed offsets of %s: %s", partitions, exc)
                committed = []
            for tp in partitions:
                self._assigned.add((tp.topic, tp.partition))
            for c in committed:
                tp = (c.topic, c.partition)
                meta = getattr(c, "metadata", None) or ""
                plan = decode_metadata(meta)
                self.tracker.assign(
                    tp, c.offset if c.offset >= 0 else None, meta, plan=plan if self.exactly_once else None
                )
                if not plan.empty:
                    log.info("partition %s[%d]: replaying recorded batches %s", tp[0], tp[1], plan)
                    self.buffers.plan_partition(tp, plan.ranges, plan.done)
        consumer.incremental_assign(partitions)
        if partitions and (self._paused or self.fatal is not None):
            consumer.pause(partitions)
        elif partitions:
            # librdkafka keeps a partition's pause across unassign and assign: one paused here before (held
            # for the schema registry, or by the memory budget) and revoked would never be read again.
            consumer.resume(partitions)
        self.metrics.assigned_partitions.set(len(self._assigned))
        log.info("assigned %s", [f"{tp.topic}[{tp.partition}]" for tp in partitions])

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        tps = {(tp.topic, tp.partition) for tp in partitions}
        drain = bool(tps) and self.fatal is None and not self._closing
        if drain and not self._drain(tps, self.clock() + self.options.drain_timeout):
            log.warning(
                "revoke: loads of %s still running after %.0fs; the next owner replays them",
                sorted(tps),
                self.options.drain_timeout,
            )
        self._forget(tps)
        consumer.incremental_unassign(partitions)
        log.info("revoked %s", sorted(tps))

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        tps = {(tp.topic, tp.partition) for tp in partitions}
        log.warning("partitions lost (session timed out): %s; nothing is committed for them", sorted(tps))
        self._forget(tps)
        consumer.incremental_unassign(partitions)

    def _forget(self, tps: set[TopicPartition]) -> None:
        self.buffers.drop_partitions(tps)
        for key in [k for k in self._waiting if k.tp in tps]:
            for batch in self._waiting.pop(key):
                self._pending_memory -= batch.memory
        self._to_submit = [b for b in self._to_submit if b.key.tp not in tps]
        for batch in [b for b in self._to_record if b.key.tp in tps]:
            self._inflight.pop(batch.key, None)  # precommitted, not committed: the next owner settles it
            self._pending_memory -= batch.memory
        self._to_record = [b for b in self._to_record if b.key.tp not in tps]
        self.registry_outage.forget(tps)
        for tp in tps:
            self.tracker.forget(tp)
            self._hi_offsets.pop(tp, None)
            self.metrics.forget_partition(*tp)
        self._assigned -= tps
        self.metrics.assigned_partitions.set(len(self._assigned))

    def _shutdown(self) -> None:
        self.health.stopping = True
        self._draining = True
        deadline = self.clock() + self.options.drain_timeout
        try:
            if self.fatal is None:
                if not self._drain(None, deadline):
                    log.warning("shutdown: loads still running at the deadline; they are replayed on restart")
            else:
                # Let loads already running finish so their work counts, but start nothing new.
                while self._inflight and self.clock() < deadline:
                    self._harvest(block=0.2)
                self._commit(force=True)
        except Exception as exc:
            log.error("error while draining: %s", exc)
        self._closing = True
        self.dead_letters.close()
        if self.schema_watch is not None:
            try:
                self.schema_watch.close()
            except Exception as exc:
                log.warning("closing the schema watch: %s", exc)
        try:
            self.consumer.close()
        except Exception as exc:
            log.warning("closing the consumer: %s", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.fatal is None:
            self._write_status({"state": "Stopped"})
