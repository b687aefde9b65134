"""A kmock Kubernetes emulator on a background thread, and the real operator (KopfRunner) against it.

kmock is async; running it on its own event loop lets the tests (and the operator, which runs its own
loop in KopfRunner's thread) talk to it over HTTP like to any API server. Known kmock limits
(operators.md §4.8): no uid/resourceVersion/generation bookkeeping (tests set them), no garbage
collection (deleting a sink leaves its children; the tests check they are owned), no separate
/status semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kmock
import yaml
from olapsink_operator.kube import KubeClient

T = TypeVar("T")

RESOURCES = {
    "olapsink.io/v1alpha1/dorissinks": ("DorisSink", {"status", "scale"}),
    "olapsink.io/v1alpha1/starrockssinks": ("StarRocksSink", {"status", "scale"}),
    "apps/v1/deployments": ("Deployment", {"status", "scale"}),
    "v1/configmaps": ("ConfigMap", set()),
    "v1/services": ("Service", {"status"}),
    "policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", {"status"}),
    "v1/secrets": ("Secret", set()),
    "v1/events": ("Event", set()),
    "v1/pods": ("Pod", {"status"}),
}
# kopf's backbone waits for these cluster-wide kinds before it starts any watch.
CLUSTER_RESOURCES = {
    "apiextensions.k8s.io/v1/customresourcedefinitions": "CustomResourceDefinition",
    "v1/namespaces": "Namespace",
}


class KubeApi:
    """The running emulator: its URL, a kubeconfig pointing at it, and a client for the tests."""

    def __init__(self, url: str, kubeconfig: Path) -> None:
        self.url = url
        self.kubeconfig = kubeconfig
        self.client = _client(url)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create with the uid and resourceVersion kmock does not assign (kopf patches need both)."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("namespace", "default")
        return self.client.create(obj)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.client.get(api_version, kind, namespace, name)

    def merge_patch(
        self, api_version: str, kind: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> None:
        from olapsink_operator.kube import object_path

        self.client._send(
            "PATCH", object_path(api_version, kind, namespace, name), patch, "application/merge-patch+json"
        )

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        from olapsink_operator.kube import object_path

        self.client._send("DELETE", object_path(api_version, kind, namespace, name))

    def events(self, namespace: str) -> list[dict[str, Any]]:
        from olapsink_operator.kube import object_path

        items: list[dict[str, Any]] = self.client._send("GET", object_path("v1", "Event", namespace))["items"]
        return items


def _client(url: str) -> KubeClient:
    import httpx

    return KubeClient(httpx.Client(base_url=url, timeout=10.0))


@contextlib.contextmanager
def running_kube_api(tmp_dir: Path) -> Iterator[KubeApi]:
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
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
            started["url"] = str(emulator.url).rstrip("/")
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("kmock did not start within 10 s")
    url = started["url"]
    kubeconfig = tmp_dir / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": url}}],
                "users": [{"name": "test", "user": {"token": "test-token"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
                "current-context": "kmock",
            }
        )
    )
    try:
        yield KubeApi(url, kubeconfig)
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


@contextlib.contextmanager
def running_operator(api: KubeApi, extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    """The real operator (kopf run, in-thread) against the emulator, with short refresh intervals."""
    from kopf.testing import KopfRunner

    env = {
        "KUBECONFIG": str(api.kubeconfig),
        "OLAPSINK_DISABLE_SCANNING": "1",
        "OLAPSINK_REFRESH_SECONDS": "2",
        "OLAPSINK_KAFKA_TIMEOUT_SECONDS": "1",
        "OLAPSINK_DATABASE_TIMEOUT_SECONDS": "0.2",
        "OLAPSINK_WATCH_SERVER_TIMEOUT": "10",
        "OLAPSINK_WATCH_CLIENT_TIMEOUT": "15",
        **(extra_env or {}),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        with KopfRunner(
            ["run", "--standalone", "--all-namespaces", "--verbose", "-m", "olapsink_operator.handlers"],
            timeout=60,
        ) as runner:
            yield runner
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def eventually(check: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns a truthy value; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")
