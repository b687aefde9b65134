"""Prometheus metrics of one worker process (one registry per Engine, so tests can run several).

Label sets are kept small and bounded: topic, partition, table and load status, never labels or offsets.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records_consumed = Counter(
            "olapsink_records_consumed", "Records read from Kafka.", ["topic"], registry=r
        )
        self.bytes_consumed = Counter(
            "olapsink_bytes_consumed", "Value bytes read from Kafka.", ["topic"], registry=r
        )
        self.records_loaded = Counter(
            "olapsink_records_loaded", "Rows in loads the database confirmed.", ["table"], registry=r
        )
        self.bytes_loaded = Counter(
            "olapsink_bytes_loaded", "Uncompressed row bytes in confirmed loads.", ["table"], registry=r
        )
        self.records_filtered = Counter(
            "olapsink_records_filtered",
            "Rows the database filtered out (NumberFilteredRows).",
            ["table"],
            registry=r,
        )
        self.records_skipped = Counter(
            "olapsink_records_skipped",
            "Records skipped on purpose (tolerated tombstones).",
            ["topic"],
            registry=r,
        )
        self.records_dead_lettered = Counter(
            "olapsink_records_dead_lettered",
            "Records sent to the dead-letter topic.",
            ["topic", "stage"],
            registry=r,
        )
        self.loads = Counter(
            "olapsink_loads", "Stream Loads by final status.", ["table", "status"], registry=r
        )
        self.load_retries = Counter(
            "olapsink_load_retries", "Stream Load attempts that were retried.", ["table"], registry=r
        )
        self.load_seconds = Histogram(
            "olapsink_load_duration_seconds",
            "Time from handing a batch to the loader to a durable result (retries included).",
            ["table"],
            buckets=_LOAD_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "olapsink_batch_rows",
            "Rows per loaded batch.",
            buckets=(1, 10, 100, 1000, 10_000, 50_000, 100_000, 500_000),
            registry=r,
        )
        self.buffer_bytes = Gauge(
            "olapsink_buffer_bytes", "Memory held by open, queued and in-flight batches.", registry=r
        )
        self.memory_budget_bytes = Gauge(
            "olapsink_memory_budget_bytes", "spec.buffer.memoryBudgetBytes.", registry=r
        )
        self.paused_partitions = Gauge(
            "olapsink_paused_partitions", "Partitions paused by backpressure.", registry=r
        )
        self.assigned_partitions = Gauge(
            "olapsink_assigned_partitions", "Partitions assigned to this worker.", registry=r
        )
        self.committed_offset = Gauge(
            "olapsink_committed_offset", "Last committed offset.", ["topic", "partition"], registry=r
        )
        self.consumer_lag = Gauge(
            "olapsink_consumer_lag",
            "High watermark minus committed offset (from librdkafka statistics).",
            ["topic", "partition"],
            registry=r,
        )
        self.commits = Counter("olapsink_offset_commits", "Offset commits.", ["result"], registry=r)
        self.schema_registry_errors = Counter(
            "olapsink_schema_registry_errors",
            "Schema fetches that failed, by kind: unavailable (the partition waits and retries; one per "
            "attempt), unusable (no such schema id or it does not compile; the record's fault), config "
            "(credentials, TLS, URL; the sink stops).",
            ["kind"],
            registry=r,
        )
        self.fatal = Gauge("olapsink_fatal", "1 when the sink stopped on a fatal error.", registry=r)
        self.loop_heartbeat = Gauge(
            "olapsink_loop_heartbeat_seconds", "Unix time of the last engine loop iteration.", registry=r
        )

    def load_finished(self, table: object, outcome: str, seconds: float, body_bytes: int, rows: int) -> None:
        """The loader's per-attempt report (load.LoadMetrics): counts attempts that will be retried."""
        if outcome == "retryable":
            self.load_retries.labels(str(table)).inc()

    def forget_partition(self, topic: str, partition: int) -> None:
        for gauge in (self.committed_offset, self.consumer_lag):
            with contextlib.suppress(KeyError):
                gauge.remove(topic, str(partition))
