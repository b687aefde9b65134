"""The operator's Prometheus metrics: per-sink lag and readiness (what the chart's alerts use), and
reconcile counts.

Gauges are set from the status each reconcile computes, so /metrics and ``kubectl get`` never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        sink = ["kind", "namespace", "name"]
        self.lag = Gauge(
            "olapsink_sink_lag",
            "Consumer-group lag of a sink in records, per topic (status.lag).",
            [*sink, "topic"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "olapsink_sink_ready", "1 when the sink's Ready condition is True.", sink, registry=self.registry
        )
        self.replicas = Gauge(
            "olapsink_sink_replicas",
            "Worker replicas the sink runs (status.replicas).",
            sink,
            registry=self.registry,
        )
        self.ready_replicas = Gauge(
            "olapsink_sink_ready_replicas",
            "Ready worker replicas (status.readyReplicas).",
            sink,
            registry=self.registry,
        )
        self.reconciles = Counter(
            "olapsink_operator_reconciles",
            "Reconciles run, by outcome (ok | error).",
            ["outcome"],
            registry=self.registry,
        )
        self._topics: dict[tuple[str, str, str], set[str]] = {}

    def serve(self, port: int, address: str) -> None:
        start_http_server(port, addr=address, registry=self.registry)

    def observe_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        key = (kind, namespace, name)
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        self.ready.labels(*key).set(1 if ready else 0)
        self.replicas.labels(*key).set(status.get("replicas") or 0)
        self.ready_replicas.labels(*key).set(status.get("readyReplicas") or 0)
        topics = dict((status.get("lag") or {}).get("topics") or {})
        for gone in self._topics.get(key, set()) - set(topics):
            self.lag.remove(*key, gone)
        for topic, lag in topics.items():
            self.lag.labels(*key, topic).set(lag)
        self._topics[key] = set(topics)

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """Drop a deleted sink's series."""
        key = (kind, namespace, name)
        for gauge in (self.ready, self.replicas, self.ready_replicas):
            if key in {tuple(labels) for labels in _label_sets(gauge)}:
                gauge.remove(*key)
        for topic in self._topics.pop(key, set()):
            self.lag.remove(*key, topic)


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    return [tuple(sample.labels.values()) for metric in gauge.collect() for sample in metric.samples]
