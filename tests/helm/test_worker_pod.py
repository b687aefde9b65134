"""Worker pods, as the operator renders them, fit the chart: restricted PSS, and the PodMonitor finds them."""

from __future__ import annotations

import pytest
from olapsink_operator.render import render_deployment

from tests.helm.chart import manifests, one
from tests.helm.restricted import restricted_violations
from tests.operator.support import inputs, manifest_body, normalised

EXAMPLES = ["doris-orders", "starrocks-users", "doris-avro"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_worker_pod_meets_restricted_pod_security_standard(example: str) -> None:
    template = render_deployment(normalised(manifest_body(example)), inputs())["spec"]["template"]
    assert restricted_violations(template["spec"], template["metadata"].get("annotations")) == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_pod_monitor_selects_worker_pods_and_their_metrics_port(example: str) -> None:
    monitor = one(manifests({"metrics": {"podMonitor": {"enabled": True}}}), "PodMonitor")["spec"]
    template = render_deployment(normalised(manifest_body(example)), inputs())["spec"]["template"]
    assert monitor["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    endpoint_ports = {e["port"] for e in monitor["podMetricsEndpoints"]}
    assert endpoint_ports <= {p["name"] for p in container["ports"]}
