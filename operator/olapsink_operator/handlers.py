"""kopf wiring: thin handlers that hand a sink body to ``reconcile`` (see reconcile.py).

No finalizers: children are owned through ownerReferences and the garbage collector deletes them,
so deleting a sink never waits for the operator. That is also why the periodic refresh is one
operator-wide task rather than a per-object ``@kopf.timer`` (kopf puts a finalizer on every object
that has a timer or daemon, and deletes would hang while the operator is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

import kopf

from olapsink_operator.kube import KubeClient, KubeError, load_credentials
from olapsink_operator.labels import API_VERSION, GROUP, MANAGED_BY, VERSION
from olapsink_operator.reconcile import Context, reconcile

log = logging.getLogger(__name__)

SINK_PLURALS = ("dorissinks", "starrockssinks")
DEFAULT_IMAGE = "ghcr.io/olapsink/olapsink:0.1.0"


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def plain(value: Any) -> Any:
    """Deep copy of a kopf body (mapping views) into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _ctx(memo: Any) -> Context:
    ctx: Context = memo["olapsink"]
    return ctx


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's own login reads KUBECONFIG at import time; ours shares the client's credentials."""
    creds = load_credentials()
    return kopf.ConnectionInfo(
        server=creds.server,
        token=creds.token,
        ca_path=creds.ca_path,
        certificate_path=creds.cert_path,
        private_key_path=creds.key_path,
        insecure=not creds.verify,
    )


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Rename kopf's bookkeeping to our group before anything ships: changing it later would make
    # every existing sink look unhandled.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Our own events say what happened; kopf's "handler succeeded" ones would only add noise.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = int(_env_float("OLAPSINK_WATCH_SERVER_TIMEOUT", 300))
    settings.watching.client_timeout = int(_env_float("OLAPSINK_WATCH_CLIENT_TIMEOUT", 330))
    settings.scanning.disabled = os.environ.get("OLAPSINK_DISABLE_SCANNING") == "1"

    ctx = Context(
        kube=KubeClient.from_environment(),
        default_image=os.environ.get("OLAPSINK_WORKER_IMAGE", DEFAULT_IMAGE),
        kafka_timeout=_env_float("OLAPSINK_KAFKA_TIMEOUT_SECONDS", 10),
        database_timeout=_env_float("OLAPSINK_DATABASE_TIMEOUT_SECONDS", 3),
        # Needs RBAC "list pods"; off until the deployment grants it (docs/operator.md, RBAC table).
        read_worker_pods=os.environ.get("OLAPSINK_READ_WORKER_PODS", "false").lower() == "true",
    )
    memo["olapsink"] = ctx
    metrics_port = os.environ.get("OLAPSINK_OPERATOR_METRICS_PORT")
    if metrics_port:
        ctx.metrics.serve(int(metrics_port), os.environ.get("OLAPSINK_OPERATOR_METRICS_ADDRESS", "0.0.0.0"))
    memo["olapsink_wake"] = wake = asyncio.Event()
    interval = _env_float("OLAPSINK_REFRESH_SECONDS", 30)
    memo["olapsink_refresher"] = asyncio.create_task(_refresh_forever(ctx, wake, interval))


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("olapsink_refresher")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "olapsink" in memo:
        _ctx(memo).kube.close()
        _ctx(memo).kafka_clients.close()


async def _refresh_forever(ctx: Context, wake: asyncio.Event, interval: float) -> None:
    """Every ``interval`` (or when a new sink appears): read lag, probe the database, reconcile."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=interval)
        wake.clear()
        for body in list(ctx.bodies.values()):
            try:
                await asyncio.to_thread(reconcile, ctx, body, observe=True)
            except Exception:
                log.exception(
                    "refresh of %s/%s failed", body["metadata"].get("namespace"), body["metadata"]["name"]
                )


def _reconcile_or_retry(ctx: Context, body: Mapping[str, Any]) -> None:
    try:
        reconcile(ctx, plain(body))
    except KubeError as error:
        raise kopf.TemporaryError(f"Kubernetes API call failed, will retry: {error}", delay=10) from error


for _plural in SINK_PLURALS:

    @kopf.on.resume(GROUP, VERSION, _plural, id="reconcile")
    @kopf.on.create(GROUP, VERSION, _plural, id="reconcile")
    @kopf.on.update(GROUP, VERSION, _plural, id="reconcile")
    def reconcile_sink(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        _reconcile_or_retry(_ctx(memo), body)

    @kopf.on.event(GROUP, VERSION, _plural, id="track")
    def track_sink(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        ctx = _ctx(memo)
        deleted = type == "DELETED" or bool(body.get("metadata", {}).get("deletionTimestamp"))
        new = (
            body["kind"],
            body["metadata"].get("namespace", "default"),
            body["metadata"]["name"],
        ) not in ctx.bodies
        ctx.track(plain(body), deleted=deleted)
        if new and not deleted:
            memo["olapsink_wake"].set()  # read Kafka soon: the partition cap and lag need it


@kopf.on.event("apps", "v1", "deployments", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
def deployment_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep readyReplicas and conditions current as the Deployment rolls, and undo deletions."""
    ctx = _ctx(memo)
    namespace = body["metadata"].get("namespace", "default")
    for owner in body["metadata"].get("ownerReferences") or []:
        key = (str(owner.get("kind")), namespace, str(owner.get("name")))
        if key not in ctx.bodies:
            continue
        # Read the sink afresh: when it was just deleted, its Deployment's deletion must not
        # resurrect the Deployment.
        sink = ctx.kube.get(API_VERSION, key[0], namespace, key[2])
        if sink is None or sink["metadata"].get("deletionTimestamp"):
            ctx.track(ctx.bodies[key], deleted=True)
            continue
        _reconcile_or_retry(ctx, sink)


def _referenced_secret(name: str, namespace: str | None, memo: Any, **_: Any) -> bool:
    return "olapsink" in memo and bool(_ctx(memo).sinks_referencing(namespace or "default", name))


if os.environ.get("OLAPSINK_WATCH_SECRETS", "true").lower() != "false":

    @kopf.on.event("", "v1", "secrets", when=_referenced_secret)
    def secret_changed(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        """A referenced Secret changed: recompute its hash so the workers roll with the new value."""
        ctx = _ctx(memo)
        for sink in ctx.sinks_referencing(namespace or "default", name):
            _reconcile_or_retry(ctx, sink)


def _referenced_config_map(name: str, namespace: str | None, memo: Any, **_: Any) -> bool:
    return "olapsink" in memo and bool(_ctx(memo).sinks_using_config_map(namespace or "default", name))


if os.environ.get("OLAPSINK_WATCH_CONFIGMAPS", "true").lower() != "false":

    @kopf.on.event("", "v1", "configmaps", when=_referenced_config_map)
    def config_map_changed(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        """A schema ConfigMap changed or appeared: rehash it so the workers roll with the new schemas."""
        ctx = _ctx(memo)
        for sink in ctx.sinks_using_config_map(namespace or "default", name):
            _reconcile_or_retry(ctx, sink)
