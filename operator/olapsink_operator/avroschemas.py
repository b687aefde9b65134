"""The ConfigMap of Avro schema files a sink names (``spec.converter.avroSchemaConfigMap``).

The worker contract: the ConfigMap is mounted read-only at ``/etc/olapsink/avro`` and
``OLAPSINK_AVRO_SCHEMA_DIR`` names that directory, against which the worker resolves relative
``avroSchemaFiles`` paths. A relative path therefore names a key of the ConfigMap. A digest of the
ConfigMap's data reaches the pod template, so a changed schema rolls the workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from olapsink_worker.errors import ConfigProblem
from olapsink_worker.spec.sections import schema_file_path

from olapsink_operator.kube import KubeClient

AVRO_SCHEMA_DIR = "/etc/olapsink/avro"
# The worker reads it as formats.avro.SCHEMA_DIR_ENV (not imported here: that module pulls in fastavro).
SCHEMA_DIR_ENV = "OLAPSINK_AVRO_SCHEMA_DIR"
FIELD = "spec.converter.avroSchemaFiles"


@dataclass(frozen=True)
class SchemaConfigMap:
    """The ConfigMap a sink names and the keys its relative ``avroSchemaFiles`` paths need, by topic."""

    name: str
    keys: Mapping[str, str]  # topic → key


def relative_paths(spec_wire: Mapping[str, Any]) -> dict[str, str]:
    """topic → relative path (``file://`` dropped) of every ``avroSchemaFiles`` entry that is not absolute."""
    files = (spec_wire.get("converter") or {}).get("avroSchemaFiles") or {}
    return {
        str(topic): str(schema_file_path(str(path)))
        for topic, path in files.items()
        if not schema_file_path(str(path)).is_absolute()
    }


def schema_config_map(spec_wire: Mapping[str, Any]) -> SchemaConfigMap | None:
    """The ConfigMap of a parsed sink's spec (camelCase wire dict), or None when it names none."""
    name = (spec_wire.get("converter") or {}).get("avroSchemaConfigMap")
    if not name:
        return None
    return SchemaConfigMap(str(name), relative_paths(spec_wire))


def pod_problems(spec_wire: Mapping[str, Any]) -> list[ConfigProblem]:
    """What the spec model accepts but no worker pod could use: a relative path with no ConfigMap to
    resolve it in (the config volume holds only sink.yaml, and a pod has no other directory of the user's)."""
    if schema_config_map(spec_wire) is not None:
        return []
    return [
        ConfigProblem(
            f"{FIELD}.{topic}",
            f"{path!r} is a relative path; put the file in a ConfigMap and name it in "
            "spec.converter.avroSchemaConfigMap, or write the absolute path of a file in the worker image",
        )
        for topic, path in sorted(relative_paths(spec_wire).items())
    ]


@dataclass(frozen=True)
class SchemaConfigMapState:
    """What the API server holds of the ConfigMap: a digest of its data, or what is missing."""

    digest: str | None
    missing: list[str]


def read_schema_config_map(kube: KubeClient, namespace: str, ref: SchemaConfigMap) -> SchemaConfigMapState:
    """The digest of the ConfigMap's data, or ``name`` (no such ConfigMap) / ``name/key`` (a key a
    relative path needs is not in it) as missing."""
    obj = kube.get("v1", "ConfigMap", namespace, ref.name)
    if obj is None:
        return SchemaConfigMapState(None, [ref.name])
    keys = set(obj.get("data") or {}) | set(obj.get("binaryData") or {})
    missing = sorted({f"{ref.name}/{key}" for key in ref.keys.values() if key not in keys})
    if missing:
        return SchemaConfigMapState(None, missing)
    return SchemaConfigMapState(config_map_hash(obj), [])


def config_map_hash(obj: Mapping[str, Any]) -> str:
    """A short digest over every key of the ConfigMap (all of them are mounted), order-free."""
    digest = hashlib.sha256()
    for section in ("data", "binaryData"):
        for key, value in sorted((obj.get(section) or {}).items()):
            digest.update(f"{section}\0{key}\0{value}\0".encode())
    return digest.hexdigest()[:16]
