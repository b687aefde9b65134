"""The real operator (kopf) against a kmock API server: what a user sees after each action."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from olapsink_operator import labels
from tests.operator.kube_api import KubeApi, eventually, running_kube_api, running_operator
from tests.operator.support import manifest_body

SINK = ("olapsink.io/v1alpha1", "DorisSink")


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    with running_kube_api(tmp_path) as api:
        yield api


@pytest.fixture
def operator(kube_api: KubeApi) -> Iterator[Any]:
    with running_operator(kube_api) as runner:
        yield runner


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _doris_sink(api: KubeApi) -> dict[str, Any]:
    """Create the example DorisSink (with its Secrets), Kafka/Doris on closed local ports."""
    body = manifest_body("doris-orders")
    body["metadata"].pop("generation")
    body["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1"
    body["spec"]["kafka"]["security"] = {"protocol": "PLAINTEXT"}
    body["spec"]["doris"]["feHosts"] = ["127.0.0.1"]
    body["spec"]["doris"]["httpPort"] = 1
    api.create(_secret("doris-cred", "shop", {"password": "first"}))
    return api.create(body)


def _deployment(api: KubeApi) -> dict[str, Any] | None:
    return api.get("apps/v1", "Deployment", "shop", "orders-doris-worker")


def _sink(api: KubeApi) -> dict[str, Any]:
    sink = api.get(*SINK, "shop", "orders")
    assert sink is not None
    return sink


def test_create_makes_owned_deployment_configmap_service_and_pdb(kube_api: KubeApi, operator: Any) -> None:
    sink = _doris_sink(kube_api)
    uid = sink["metadata"]["uid"]
    children = [
        ("apps/v1", "Deployment", "orders-doris-worker"),
        ("v1", "ConfigMap", "orders-doris-config"),
        ("v1", "Service", "orders-doris-metrics"),
        ("policy/v1", "PodDisruptionBudget", "orders-doris-worker"),
    ]
    for api_version, kind, name in children:
        child = eventually(lambda a=api_version, k=kind, n=name: kube_api.get(a, k, "shop", n))
        owners = child["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"], o["controller"]) for o in owners] == [
            ("DorisSink", "orders", uid, True)
        ]
    assert eventually(lambda: _deployment(kube_api))["spec"]["replicas"] == 2
    status = eventually(lambda: _sink(kube_api).get("status", {}).get("selector") and _sink(kube_api)["status"])
    assert status["selector"] == labels.selector_string("orders", "doris")
    assert status["tables"] == ["finance.refunds", "shop.orders_tbl"]
