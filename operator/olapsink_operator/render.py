"""Render a sink's children (ConfigMap, Deployment, Service, PodDisruptionBudget) as plain dicts.

Pure functions over the normalised manifest (the camelCase wire form of the parsed sink, the same
document the ConfigMap hands to the workers) and a few values the operator observed. Golden tests in
tests/operator/golden/ pin the output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from olapsink_operator import labels
from olapsink_operator.avroschemas import AVRO_SCHEMA_DIR, SCHEMA_DIR_ENV, schema_config_map
from olapsink_operator.secretrefs import SECRETS_DIR, SecretRef, find_secret_refs

CONFIG_DIR = "/etc/olapsink"
CONFIG_FILE = "sink.yaml"
DEFAULT_METRICS_PORT = 9404
# Long enough for a worker to flush its batches and commit offsets after SIGTERM.
TERMINATION_GRACE_SECONDS = 120
WORKER_UID = 65532

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class RenderInputs:
    """What rendering needs beyond the manifest: decided or observed by the operator."""

    replicas: int
    secrets_hash: str
    default_image: str
    restart: str | None = None  # the sink's olapsink.io/restart annotation; a new value rolls the workers
    avro_schemas_hash: str | None = None  # of spec.converter.avroSchemaConfigMap's data, when it names one


def config_text(manifest: Manifest) -> str:
    """The ConfigMap's ``sink.yaml``: stable key order so equal specs give equal hashes."""
    return yaml.safe_dump(dict(manifest), sort_keys=True, default_flow_style=False)


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def owner_reference(manifest: Manifest) -> dict[str, Any]:
    meta = manifest["metadata"]
    return {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _meta(manifest: Manifest, name: str, flavor: str) -> dict[str, Any]:
    meta = manifest["metadata"]
    return {
        "name": name,
        "namespace": meta.get("namespace", "default"),
        "labels": labels.common_labels(meta["name"], flavor),
        "ownerReferences": [owner_reference(manifest)],
    }


def flavor_of(manifest: Manifest) -> str:
    return "doris" if manifest["kind"] == "DorisSink" else "starrocks"


def metrics_port(manifest: Manifest) -> int:
    return int(manifest["spec"].get("worker", {}).get("metricsPort") or DEFAULT_METRICS_PORT)


def render_config_map(manifest: Manifest) -> dict[str, Any]:
    flavor = flavor_of(manifest)
    name = labels.config_name(manifest["metadata"]["name"], flavor)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(manifest, name, flavor),
        "data": {CONFIG_FILE: config_text(manifest)},
    }


def _secret_volume_name(secret: str) -> str:
    # Secret names may hold dots and run to 253 characters; volume names must be short DNS labels.
    return "secret-" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _secret_volumes(refs: list[SecretRef]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    keys_by_secret: dict[str, set[str]] = {}
    for ref in refs:
        keys_by_secret.setdefault(ref.secret, set()).add(ref.key)
    volumes, mounts = [], []
    for secret, keys in sorted(keys_by_secret.items()):
        volume = _secret_volume_name(secret)
        volumes.append(
            {
                "name": volume,
                "secret": {
                    "secretName": secret,
                    # Only the referenced keys: other entries of a shared Secret stay out of the pod.
                    "items": [{"key": key, "path": key} for key in sorted(keys)],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append({"name": volume, "mountPath": f"{SECRETS_DIR}/{secret}", "readOnly": True})
    return volumes, mounts


def _env(worker: Mapping[str, Any], refs: list[SecretRef], avro_schemas: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "OLAPSINK_CONFIG", "value": f"{CONFIG_DIR}/{CONFIG_FILE}"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    env += [{"name": ref.env_name, "value": ref.file} for ref in refs]
    if avro_schemas:
        env.append({"name": SCHEMA_DIR_ENV, "value": AVRO_SCHEMA_DIR})
    reserved = {item["name"] for item in env}
    # The user's env comes last so it may add variables, but cannot shadow the contract above.
    env += [dict(item) for item in worker.get("env", []) if item.get("name") not in reserved]
    return env


def render_deployment(manifest: Manifest, inputs: RenderInputs) -> dict[str, Any]:
    flavor = flavor_of(manifest)
    meta = manifest["metadata"]
    spec = manifest["spec"]
    worker: Mapping[str, Any] = spec.get("worker", {})
    sink_name = meta["name"]
    refs = find_secret_refs(spec)
    secret_volumes, secret_mounts = _secret_volumes(refs)
    schemas = schema_config_map(spec)
    schema_volumes, schema_mounts = [], []
    if schemas is not None:
        schema_volumes.append({"name": "avro-schemas", "configMap": {"name": schemas.name}})
        schema_mounts.append({"name": "avro-schemas", "mountPath": AVRO_SCHEMA_DIR, "readOnly": True})
    port = metrics_port(manifest)

    template_annotations = {
        **worker.get("podAnnotations", {}),
        labels.CONFIG_HASH_ANNOTATION: config_hash(config_text(manifest)),
        labels.SECRETS_HASH_ANNOTATION: inputs.secrets_hash,
    }
    if schemas is not None:
        template_annotations[labels.AVRO_SCHEMAS_HASH_ANNOTATION] = inputs.avro_schemas_hash or ""
    if inputs.restart:
        template_annotations[labels.RESTART_ANNOTATION] = inputs.restart

    container: dict[str, Any] = {
        "name": "worker",
        "image": worker.get("image") or inputs.default_image,
        "imagePullPolicy": worker.get("imagePullPolicy") or "IfNotPresent",
        "command": ["olapsink-worker", "--config", f"{CONFIG_DIR}/{CONFIG_FILE}"],
        "env": _env(worker, refs, avro_schemas=schemas is not None),
        "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}],
        # Liveness is the worker's own loop, never the database: a Doris outage must not restart pods.
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "metrics"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "resources": dict(worker.get("resources") or {}),
        # The worker writes its fatal error as JSON to /dev/termination-log (the operator reads it from
        # the pod status); a crash before that still leaves the last log lines there.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            *secret_mounts,
            *schema_mounts,
        ],
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": WORKER_UID,
            "runAsGroup": WORKER_UID,
            "fsGroup": WORKER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": labels.config_name(sink_name, flavor)}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            *secret_volumes,
            *schema_volumes,
        ],
    }
    for wire_key in ("serviceAccountName", "priorityClassName", "nodeSelector", "tolerations", "affinity"):
        if worker.get(wire_key):
            pod_spec[wire_key] = worker[wire_key]

    selector = labels.selector_labels(sink_name, flavor)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(manifest, labels.worker_name(sink_name, flavor), flavor),
        "spec": {
            "replicas": inputs.replicas,
            "selector": {"matchLabels": selector},
            # No surge: an extra consumer only triggers one more group rebalance.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {**worker.get("podLabels", {}), **labels.common_labels(sink_name, flavor)},
                    "annotations": template_annotations,
                },
                "spec": pod_spec,
            },
        },
    }


def render_service(manifest: Manifest) -> dict[str, Any]:
    flavor = flavor_of(manifest)
    sink_name = manifest["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(manifest, labels.metrics_name(sink_name, flavor), flavor),
        "spec": {
            # Headless: Prometheus scrapes each worker, nothing needs a virtual IP.
            "clusterIP": "None",
            "selector": labels.selector_labels(sink_name, flavor),
            "ports": [{"name": "metrics", "port": metrics_port(manifest), "targetPort": "metrics"}],
        },
    }


def render_pdb(manifest: Manifest) -> dict[str, Any]:
    flavor = flavor_of(manifest)
    sink_name = manifest["metadata"]["name"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(manifest, labels.worker_name(sink_name, flavor), flavor),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": labels.selector_labels(sink_name, flavor)},
        },
    }


def render_children(manifest: Manifest, inputs: RenderInputs) -> list[dict[str, Any]]:
    """All children, ConfigMap first so the pods never start without their config."""
    return [
        render_config_map(manifest),
        render_deployment(manifest, inputs),
        render_service(manifest),
        render_pdb(manifest),
    ]
