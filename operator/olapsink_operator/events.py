"""Kubernetes Events on a sink, posted directly (also from the refresher, outside kopf handlers).

Messages name fields and counts, never Secret values.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from olapsink_operator import labels
from olapsink_operator.kube import KubeClient, KubeError
from olapsink_operator.labels import MANAGED_BY

log = logging.getLogger(__name__)


def render_event(
    sink: Mapping[str, Any], type_: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    meta = sink["metadata"]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
            "namespace": meta.get("namespace", "default"),
        },
        "involvedObject": {
            "apiVersion": sink["apiVersion"],
            "kind": sink["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace", "default"),
            "uid": meta.get("uid", ""),
        },
        "type": type_,
        "reason": reason,
        # Events are single-line; Kubernetes caps messages at 1 KiB.
        "message": " ".join(message.split())[:1000],
        "source": {"component": MANAGED_BY},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def post_event(kube: KubeClient, sink: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    """Post an event; a failure is logged, never raised: events are a courtesy, status is the record."""
    try:
        kube.create(render_event(sink, type_, reason, message, datetime.now(UTC)))
    except (KubeError, OSError) as error:
        log.warning("could not post event %s on %s: %s", reason, sink["metadata"]["name"], error)


def deployment_events(
    kube: KubeClient,
    body: Mapping[str, Any],
    action: str,
    previous: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    replicas: int,
) -> bool:
    """Post the events a Deployment change means to a user. True when the workers roll."""
    if action == "created":
        post_event(
            kube,
            body,
            "Normal",
            "Created",
            f"created Deployment {desired['metadata']['name']} with {replicas} workers",
        )
        return False
    if action != "updated" or previous is None:
        return False
    before = int(previous.get("spec", {}).get("replicas") or 0)
    if before != replicas:
        if replicas == 0 and body["spec"].get("state") == "Paused":
            post_event(kube, body, "Normal", "Paused", f"paused: scaled workers from {before} to 0")
        elif before == 0 and (body.get("status") or {}).get("state") == "Paused":
            post_event(kube, body, "Normal", "Resumed", f"resumed: scaled workers from 0 to {replicas}")
        else:
            post_event(kube, body, "Normal", "Scaled", f"scaled workers from {before} to {replicas}")
    old_annotations = (
        previous.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    )
    new_annotations = desired["spec"]["template"]["metadata"]["annotations"]
    changed = [
        what
        for what, annotation in (
            ("config", labels.CONFIG_HASH_ANNOTATION),
            ("Secrets", labels.SECRETS_HASH_ANNOTATION),
            ("Avro schemas", labels.AVRO_SCHEMAS_HASH_ANNOTATION),
            ("restart annotation", labels.RESTART_ANNOTATION),
        )
        if old_annotations.get(annotation) != new_annotations.get(annotation)
    ]
    if changed:
        post_event(
            kube, body, "Normal", "RollingRestart", "rolling the workers: changed " + ", ".join(changed)
        )
        return True
    return False
