"""``olapsink-worker --config FILE``: run one worker of a sink.

The file is a whole DorisSink/StarRocksSink manifest (typed fields and/or ``connectorConfig``). Several
workers started with the same file share the partitions through the consumer group.

Exit codes: 0 after SIGTERM/SIGINT (buffers flushed, offsets committed), 2 when a fatal error stopped
the sink (offsets of what was not durable are kept; the reason is in the log, the ``olapsink_fatal``
metric and the status file), 3 for an invalid configuration. Kubernetes restarts the pod with backoff
after 2 and 3, which also retries errors a person fixed meanwhile (a table created, a grant given).

The status file (``--status-file``, env ``OLAPSINK_STATUS_FILE``, default ``/dev/termination-log`` when
it exists) gets one JSON object ``{"state", "reason", "message"}``; as the container's termination
message it appears in the pod status, where the operator reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from olapsink_worker.errors import ConfigError
from olapsink_worker.health import Health, HealthServer
from olapsink_worker.metrics import WorkerMetrics

EXIT_CONFIG = 3
_TERMINATION_LOG = "/dev/termination-log"

log = logging.getLogger("olapsink.worker")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields (topic, partition, offset, label) are kept."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="olapsink-worker", description=__doc__.split("\n\n")[0])
    config = os.environ.get("OLAPSINK_CONFIG")
    p.add_argument(
        "--config",
        required=config is None,
        default=config,
        help="sink manifest (YAML): a DorisSink or StarRocksSink (default: $OLAPSINK_CONFIG)",
    )
    p.add_argument("--metrics-port", type=int, default=None, help="override spec.worker.metricsPort (0: any)")
    p.add_argument("--metrics-host", default=os.environ.get("OLAPSINK_METRICS_HOST", "0.0.0.0"))
    p.add_argument("--status-file", default=os.environ.get("OLAPSINK_STATUS_FILE"))
    p.add_argument("--load-threads", type=int, default=int(os.environ.get("OLAPSINK_LOAD_THREADS", "2")))
    p.add_argument(
        "--drain-timeout", type=float, default=float(os.environ.get("OLAPSINK_DRAIN_TIMEOUT", "25"))
    )
    p.add_argument("--log-level", default=os.environ.get("OLAPSINK_LOG_LEVEL", "info"))
    p.add_argument(
        "--log-format", choices=["json", "text"], default=os.environ.get("OLAPSINK_LOG_FORMAT", "json")
    )
    return p


def _status_file(arg: str | None) -> str | None:
    if arg:
        return arg
    return (
        _TERMINATION_LOG
        if os.path.exists(_TERMINATION_LOG) and os.access(_TERMINATION_LOG, os.W_OK)
        else None
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    status_file = _status_file(args.status_file)
    try:
        return run(args, status_file)
    except ConfigError as exc:
        log.error("invalid configuration in %s:\n%s", args.config, exc)
        if status_file:
            try:
                with open(status_file, "w", encoding="utf-8") as f:
                    json.dump({"state": "Failed", "reason": "ConfigError", "message": str(exc)[:3500]}, f)
            except OSError:
                pass
        return EXIT_CONFIG


_PRODUCER_ONLY = frozenset({"enable.idempotence", "acks", "linger.ms"})


class Worker:
    """An engine with its consumer, loader and dead-letter producer, built from a sink (no signals,
    no HTTP server: ``run`` adds those; tests run a Worker on a thread)."""

    def __init__(
        self,
        sink: Any,
        password: str,
        *,
        metrics: WorkerMetrics | None = None,
        health: Health | None = None,
        options: Any = None,
    ) -> None:
        from confluent_kafka import Consumer, Producer

        from olapsink_worker.consumer import consumer_config, producer_config
        from olapsink_worker.deadletter import DeadLetterQueue, ensure_topic
        from olapsink_worker.engine import Engine, EngineOptions
        from olapsink_worker.load import RetryPolicy, StreamLoader
        from olapsink_worker.schema.watch import watch_for_sink

        spec = sink.spec
        self.sink = sink
        self.metrics = metrics or WorkerMetrics()
        self.loader = StreamLoader(sink, password, metrics=self.metrics)
        dlq_spec = spec.errors.dead_letter_queue

        def dead_letter_producer() -> Any:
            from confluent_kafka.admin import AdminClient

            conf = producer_config(sink)
            admin = AdminClient({k: v for k, v in conf.items() if k not in _PRODUCER_ONLY})
            ensure_topic(admin, dlq_spec.topic, dlq_spec.replication_factor)
            return Producer(conf)

        dead_letters = DeadLetterQueue(
            dlq_spec.topic,
            dead_letter_producer if dlq_spec.topic else None,
            context=dlq_spec.context_headers,
        )
        conf = consumer_config(sink)
        conf.setdefault("statistics.interval.ms", 15000)
        conf["stats_cb"] = self._on_stats
        conf["on_commit"] = self._on_commit
        options = dataclasses.replace(options or EngineOptions(), async_commit=True)
        self.engine: Engine | None = None
        consumer = Consumer(conf, logger=logging.getLogger("olapsink.kafka"))
        self.engine = Engine(
            sink,
            consumer=consumer,
            loader=self.loader,
            retry_policy=RetryPolicy.from_spec(spec.errors),
            dead_letters=dead_letters,
            metrics=self.metrics,
            health=health,
            options=options,
            schema_watch=watch_for_sink(sink, password),
        )

    def _on_commit(self, err: Any, partitions: Any) -> None:
        if self.engine is not None:
            self.engine.on_commit(err, partitions)

    def _on_stats(self, stats: str) -> None:
        if self.engine is not None:
            self.engine.on_stats(stats)

    def run(self) -> int:
        from olapsink_worker.consumer import subscription

        assert self.engine is not None
        self.engine.subscribe(subscription(self.sink.spec.kafka))
        try:
            return self.engine.run()
        finally:
            self.loader.close()

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()


#: Allocations of GC-tracked objects between young collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Fewer cyclic-GC passes on the consume path. Every Kafka message arrives as a GC-tracked Message
    object (thousands per consume() call) that lives until its batch is ingested, so with CPython's
    defaults the collector ran ~15 young passes per call and promoted them into older generations
    that it then traversed again, with every long-lived object of the process: ~0.3 CPU-s per million
    records, a third of the loop's time (measured with the bench's consumer loop, docs/benchmarks.md).
    Freezing what start-up built takes those objects out of every later pass; cyclic garbage is still
    collected, in fewer, bounded passes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


def default_avro_schema_dir(config: str) -> None:
    """Run by hand, relative ``avroSchemaFiles`` paths are read next to the config file, where people keep
    them; the operator sets ``$OLAPSINK_AVRO_SCHEMA_DIR`` to its ConfigMap mount, and a value set by hand
    wins too."""
    from olapsink_worker.formats.avro import SCHEMA_DIR_ENV

    os.environ.setdefault(SCHEMA_DIR_ENV, str(Path(config).resolve().parent))


def run(args: argparse.Namespace, status_file: str | None) -> int:
    from olapsink_worker.engine import EngineOptions
    from olapsink_worker.secrets import database_password
    from olapsink_worker.spec import load_manifest_file

    sink = load_manifest_file(args.config)
    default_avro_schema_dir(args.config)
    spec = sink.spec
    metrics = WorkerMetrics()
    health = Health()
    port = spec.worker.metrics_port if args.metrics_port is None else args.metrics_port
    server = HealthServer(health, metrics.registry, port, host=args.metrics_host).start()
    log.info(
        "worker for %s %s/%s: group %s, metrics on :%d",
        type(sink).__name__,
        sink.metadata.namespace,
        sink.metadata.name,
        sink.effective_group_id,
        server.port,
    )
    stopped = threading.Event()
    workers: list[Worker] = []

    def on_signal(signum: int, frame: Any) -> None:
        log.info("signal %d: flushing and committing, then exiting", signum)
        stopped.set()
        for worker in workers:
            worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if str(spec.state) == "Paused":
            # Paused: stay up and healthy without joining the group, so the offsets stay where they are.
            health.joined = True
            log.info("spec.state is Paused: not consuming")
            stopped.wait()
            return 0
        options = EngineOptions(
            load_threads=max(1, args.load_threads),
            drain_timeout=args.drain_timeout,
            status_file=status_file,
            # Exactly-once: how to settle a precommitted range whose label the database forgot (after a
            # person checked the table; see docs/exactly-once.md). Default: stop and ask.
            undecided=os.environ.get("OLAPSINK_EXACTLY_ONCE_UNDECIDED", "fail"),
        )
        worker = Worker(sink, database_password(sink), metrics=metrics, health=health, options=options)
        workers.append(worker)
        if stopped.is_set():
            worker.stop()
        tune_gc()  # the process's own heap: not in Worker, which tests also run on threads of pytest
        return worker.run()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
