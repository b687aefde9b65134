"""`olapsink-operator` as users start it: a process that reconciles and answers its liveness probe."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.operator.kube_api import KubeApi, eventually, running_kube_api
from tests.operator.support import manifest_body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    with running_kube_api(tmp_path) as api:
        yield api


def test_operator_process_reconciles_a_namespace_serves_liveness_and_metrics(kube_api: KubeApi) -> None:
    port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kube_api.kubeconfig),
        "OLAPSINK_DISABLE_SCANNING": "1",
        "OLAPSINK_KAFKA_TIMEOUT_SECONDS": "1",
        "OLAPSINK_DATABASE_TIMEOUT_SECONDS": "0.2",
        "OLAPSINK_OPERATOR_METRICS_PORT": str(metrics_port),
        "OLAPSINK_OPERATOR_METRICS_ADDRESS": "127.0.0.1",
    }
    command = [sys.executable, "-m", "olapsink_operator.main", "--namespace", "shop"]
    command += ["--liveness", f"http://127.0.0.1:{port}/healthz"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = manifest_body("doris-orders")
        body["spec"]["kafka"] = {"bootstrapServers": "127.0.0.1:1", "topics": ["orders"]}
        body["spec"]["doris"]["feHosts"] = ["127.0.0.1"]
        kube_api.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "doris-cred", "namespace": "shop"},
                "data": {"password": base64.b64encode(b"pw").decode()},
            }
        )
        kube_api.create(body)
        eventually(lambda: kube_api.get("apps/v1", "Deployment", "shop", "orders-doris-worker"), timeout=30)

        def live() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(live, timeout=10)

        def ready_gauge() -> bool:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
            return 'olapsink_sink_ready{kind="DorisSink",name="orders",namespace="shop"} 0.0' in text

        eventually(ready_gauge, timeout=10)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode is not None
