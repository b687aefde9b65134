"""The chart's RBAC allows every API call the real operator makes.

The operator (kopf, in-thread) runs against a kmock API server through a user journey: create two
sinks and their Secret, scale, change the Secret, pause. Every request the operator sent is mapped
to (API group, resource[/subresource], RBAC verb) and checked against the rules the chart renders,
in cluster-wide mode and in a namespaced Role. A permission the operator lacks in a real cluster
(HTTP 403, a sink that never reconciles) fails here instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import kmock
import pytest
import yaml
from olapsink_operator.kube import KubeClient, object_path

from tests.helm.chart import Manifest, find, manifests, one
from tests.operator.kube_api import CLUSTER_RESOURCES, RESOURCES, KubeApi, eventually, running_operator
from tests.operator.support import manifest_body

TEST_AGENT = "olapsink-rbac-test"
Call = tuple[str, str, str]  # (API group, resource or resource/subresource, verb)


class RecordingApi:
    """kmock on its own loop, keeping the emulator so the test can read every request it served.

    Set up like tests/operator/kube_api.py (same resource tables), which does not expose its emulator.
    """

    def __init__(self, emulator: kmock.KubernetesEmulator, url: str, kubeconfig: Path) -> None:
        self.emulator = emulator
        self.kubeconfig = kubeconfig
        # The test's own requests carry their own User-Agent, so they can be told from the operator's.
        self.client = KubeClient(httpx.Client(base_url=url, timeout=10.0, headers={"User-Agent": TEST_AGENT}))

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("resourceVersion", "1")
        meta.pop("generation", None)
        return self.client.create(obj)

    def merge_patch(
        self, api_version: str, kind: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> None:
        path = object_path(api_version, kind, namespace, name)
        self.client._send("PATCH", path, patch, "application/merge-patch+json")

    def operator_calls(self) -> set[Call]:
        calls: set[Call] = set()
        for request in list(self.emulator):
            if request.headers.get("User-Agent") == TEST_AGENT:
                continue  # the test's own calls
            if request.resource is None or not request.resource.plural:
                continue  # API discovery (/api, /apis/<group>/<version>): every user may read it
            resource = request.resource.plural or ""
            if request.subresource:
                resource = f"{resource}/{request.subresource}"
            calls.add((request.resource.group or "", resource, rbac_verb(request)))
        return calls


def rbac_verb(request: Any) -> str:
    method = str(request.method.value if hasattr(request.method, "value") else request.method).upper()
    if method == "GET":
        if request.name:
            return "get"
        return "watch" if str(request.params.get("watch", "")).lower() in {"true", "1"} else "list"
    if method == "DELETE" and not request.name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


@contextlib.contextmanager
def recording_api(tmp_dir: Path) -> Iterator[RecordingApi]:
    loop = asyncio.new_event_loop()
    state: dict[str, Any] = {}
    ready = threading.Event()

    async def serve() -> None:
        state["stop"] = stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator):
            for resource, (kind, subresources) in RESOURCES.items():
                emulator.resources[resource] = kmock.ResourceInfo(
                    kind=kind,
                    namespaced=True,
                    subresources=subresources,
                    verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
                )
            for resource, kind in CLUSTER_RESOURCES.items():
                emulator.resources[resource] = kmock.ResourceInfo(
                    kind=kind, namespaced=False, verbs={"get", "list", "watch"}
                )
            state["emulator"], state["url"] = emulator, str(emulator.url).rstrip("/")
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("kmock did not start within 10 s")
    kubeconfig = tmp_dir / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": state["url"]}}],
                "users": [{"name": "test", "user": {"token": "test-token"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
                "current-context": "kmock",
            }
        )
    )
    try:
        yield RecordingApi(state["emulator"], state["url"], kubeconfig)
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def secret(name: str, namespace: str, password: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"password": base64.b64encode(password.encode()).decode()},
    }


def unreachable(body: dict[str, Any]) -> dict[str, Any]:
    """Point Kafka and the database at closed local ports: the journey needs no real backends."""
    spec = body["spec"]
    spec["kafka"]["bootstrapServers"] = "127.0.0.1:1"
    spec["kafka"].pop("security", None)
    if "doris" in spec:
        spec["doris"].update(feHosts=["127.0.0.1"], httpPort=1)
    if "starrocks" in spec:
        spec["starrocks"]["httpUrls"] = ["127.0.0.1:1"]
    return body


def user_journey(api: RecordingApi) -> None:
    doris = unreachable(manifest_body("doris-orders"))
    starrocks = unreachable(manifest_body("starrocks-users"))
    api.create(secret("doris-cred", "shop", "first"))
    api.create(doris)
    api.create(starrocks)
    sink = ("olapsink.io/v1alpha1", "DorisSink", "shop", "orders")
    eventually(lambda: api.client.get("apps/v1", "Deployment", "shop", "orders-doris-worker"), timeout=30)
    eventually(lambda: (api.client.get(*sink) or {}).get("status", {}).get("selector"), timeout=30)
    api.merge_patch(*sink, {"spec": {"replicas": 1}})
    api.merge_patch(
        "v1", "Secret", "shop", "doris-cred", {"data": {"password": base64.b64encode(b"x").decode()}}
    )
    api.merge_patch(*sink, {"spec": {"state": "Paused"}})
    eventually(
        lambda: (
            (api.client.get("apps/v1", "Deployment", "shop", "orders-doris-worker") or {})
            .get("spec", {})
            .get("replicas")
            == 0
        ),
        timeout=30,
    )


WORKER_IMAGE = "registry.example.com/olapsink-worker:9.9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chart_operator_env(metrics_port: int) -> dict[str, str]:
    """The operator's literal environment variables as the chart sets them, metrics on a free local port."""
    docs = manifests({"workerImage": WORKER_IMAGE, "operator": {"metricsPort": metrics_port}})
    operator = next(d for d in find(docs, "Deployment") if d["metadata"]["name"].endswith("-operator"))
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    # In a pod the operator listens on all interfaces; here only on loopback.
    return {
        **{e["name"]: e["value"] for e in env if "value" in e},
        "OLAPSINK_OPERATOR_METRICS_ADDRESS": "127.0.0.1",
    }


@dataclass(frozen=True)
class Journey:
    calls: set[Call]
    starrocks_deployment: dict[str, Any]
    metrics: str  # the operator's /metrics text, scraped where the chart's port points


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Journey:
    port = free_port()
    with recording_api(tmp_path_factory.mktemp("kube")) as api:
        kube_api = KubeApi.__new__(KubeApi)  # running_operator only reads .kubeconfig
        kube_api.kubeconfig = api.kubeconfig
        with running_operator(kube_api, extra_env=chart_operator_env(port)):
            user_journey(api)
            deployment = eventually(
                lambda: api.client.get("apps/v1", "Deployment", "crm", "users-starrocks-worker"), timeout=30
            )
            metrics = eventually(lambda: scrape(f"http://127.0.0.1:{port}/metrics"), timeout=10)
        return Journey(api.operator_calls(), deployment, metrics)


def scrape(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=2).text
    except httpx.TransportError:
        return None


@pytest.fixture(scope="module")
def operator_calls(journey: Journey) -> set[Call]:
    return journey.calls


def test_worker_image_set_in_the_chart_reaches_worker_pods(journey: Journey) -> None:
    # The StarRocksSink example names no spec.worker.image, so the operator's default applies.
    (container,) = journey.starrocks_deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == WORKER_IMAGE


def test_operator_serves_the_readiness_gauge_the_alerts_group_by(journey: Journey) -> None:
    """The chart's metrics port is where the operator listens, with the labels the alerts use."""
    rules = one(manifests({"metrics": {"prometheusRule": {"enabled": True}}}), "PrometheusRule")
    lag_expr = next(
        r["expr"] for g in rules["spec"]["groups"] for r in g["rules"] if "olapsink_sink_lag" in r["expr"]
    )
    (grouping,) = set(re.findall(r"sum by \(([^)]*)\)", lag_expr))
    series = re.search(r"^olapsink_sink_ready\{([^}]*)\} ", journey.metrics, re.MULTILINE)
    assert series, journey.metrics
    labels = dict(re.findall(r'(\w+)="([^"]*)"', series.group(1)))
    assert {label.strip() for label in grouping.split(",")} <= set(labels)


def allowed(rules: list[dict[str, Any]]) -> set[Call]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_journey_exercised_the_operator(operator_calls: set[Call]) -> None:
    # Guards the test itself: if the operator made no calls, the comparisons below prove nothing.
    assert ("apps", "deployments", "create") in operator_calls
    assert ("olapsink.io", "dorissinks/status", "patch") in operator_calls
    assert ("", "pods", "list") in operator_calls  # OLAPSINK_READ_WORKER_PODS=true from the chart


def test_cluster_role_allows_every_call_the_operator_made(operator_calls: set[Call]) -> None:
    rules = one(manifests(), "ClusterRole", "olapsink-operator")["rules"]
    assert operator_calls - allowed(rules) == set()


def test_namespaced_role_allows_every_namespaced_call_the_operator_made(operator_calls: set[Call]) -> None:
    docs: list[Manifest] = manifests({"watchNamespaces": ["shop", "crm"]})
    role = find(docs, "Role")[0]
    cluster_role = one(docs, "ClusterRole", "olapsink-operator")
    missing = operator_calls - allowed(role["rules"]) - allowed(cluster_role["rules"])
    assert missing == set()


# Granted but not exercised by the journey above, each for a stated reason. Anything else the chart
# grants must show up in the operator's calls, so an unneeded permission fails the test.
NOT_EXERCISED: dict[Call, str] = {
    ("olapsink.io", "dorissinks", "get"): "kopf may re-read a sink; cheap and read-only",
    ("olapsink.io", "starrockssinks", "get"): "kopf may re-read a sink; cheap and read-only",
    ("olapsink.io", "dorissinks/finalizers", "update"): "checked by admission for blockOwnerDeletion",
    ("olapsink.io", "starrockssinks/finalizers", "update"): "checked by admission for blockOwnerDeletion",
    ("", "services", "patch"): "a Service is patched when the metrics port changes",
    ("policy", "poddisruptionbudgets", "patch"): "a PDB is patched when its selector or budget changes",
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"): "kopf scanning (disabled in tests)",
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"): "kopf scanning (disabled in tests)",
}


def test_cluster_role_grants_nothing_the_operator_does_not_use(operator_calls: set[Call]) -> None:
    rules = one(manifests(), "ClusterRole", "olapsink-operator")["rules"]
    assert allowed(rules) - operator_calls - set(NOT_EXERCISED) == set()
