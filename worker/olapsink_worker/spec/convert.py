"""Kafka Connect sink connector config → a DorisSink/StarRocksSink manifest (``olapsink convert``).

Pure functions: the CLI reads the files and prints. Literal passwords become Secret references; their
values are never written out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from olapsink_worker.errors import ConfigError, ConfigProblem
from olapsink_worker.spec import compat
from olapsink_worker.spec.compat import LiteralSecret
from olapsink_worker.spec.manifest import API_VERSION, KINDS, model_in, problems_from_validation_error


@dataclass
class Conversion:
    """The manifest, the Secrets the user must create, and notes about keys that changed nothing."""

    manifest: dict[str, Any]
    secrets: list[LiteralSecret] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def kubernetes_name(connector_name: str) -> str:
    """A Connect connector name (``test_doris-sink``) as a Kubernetes object name (``test-doris-sink``)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", connector_name.lower()).strip("-.")
    return name[:253] or "sink"


def convert_connector_config(
    config: dict[str, str],
    *,
    name: str | None = None,
    namespace: str | None = None,
    worker_config: dict[str, str] | None = None,
    bootstrap_servers: str | None = None,
    group_id: str | None = None,
) -> Conversion:
    """Build a validated manifest from a connector config (plus, optionally, the Connect worker's config).

    Raises ConfigError listing every problem; a problem caused by a property names that property.
    """
    notes: list[str] = []
    if worker_config:
        config, notes = compat.merge_worker_config(worker_config, config)
    if bootstrap_servers:
        config = {**config, "bootstrap.servers": bootstrap_servers}
    connector_class = config.get(compat.CLASS_KEY)
    flavor = compat.flavor_of_class(connector_class)
    if flavor is None:
        message = (
            f"{connector_class!r} is not the Doris or StarRocks sink connector; olapsink replaces only "
            + " and ".join(compat.CONNECTOR_CLASSES)
            if connector_class
            else "is missing; it tells whether to build a DorisSink or a StarRocksSink"
        )
        raise ConfigError(ConfigProblem(compat.CLASS_KEY, message))
    connector_name = name or config.get(compat.NAME_KEY)
    if not connector_name:
        raise ConfigError(ConfigProblem(compat.NAME_KEY, "is missing; pass --name"))
    object_name = kubernetes_name(connector_name)
    if object_name != connector_name:
        notes.append(f"name: {connector_name!r} became metadata.name {object_name!r} (Kubernetes naming)")

    translation = compat.translate(flavor, config, secret_mode="extract", secret_prefix=object_name)
    spec = translation.spec
    if group_id:
        spec.setdefault("kafka", {})["groupId"] = group_id
    metadata: dict[str, Any] = {"name": object_name}
    if namespace:
        metadata["namespace"] = namespace
    kind = compat.KIND_OF_FLAVOR[flavor]
    manifest = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}

    problems = [_as_property(p) for p in translation.problems]
    try:
        KINDS[kind].model_validate(manifest)
    except ValidationError as exc:
        problems += [
            _as_property(p) for p in problems_from_validation_error(exc, KINDS[kind], translation.origins)
        ]
    if problems:
        raise ConfigError(problems)
    manifest["spec"] = _in_field_order(spec, KINDS[kind].model_fields["spec"].annotation)
    # `name` became metadata.name here, so the compat note about it would only confuse.
    kept = [n for n in translation.notes if not n.startswith(f"{compat.NAME_KEY}:")]
    return Conversion(manifest, translation.secrets, notes + kept)


def _in_field_order(fragment: dict[str, Any], model: Any) -> dict[str, Any]:
    """The fragment's keys in the order the model declares its fields, so the YAML reads like the docs."""
    fields = getattr(model, "model_fields", None)
    if not fields:
        return fragment
    order = {
        field.alias or name: (index, field.annotation) for index, (name, field) in enumerate(fields.items())
    }
    ordered = {}
    for key in sorted(fragment, key=lambda k: order.get(k, (len(order), None))[0]):
        value = fragment[key]
        annotation = order.get(key, (0, None))[1]
        ordered[key] = _in_field_order(value, model_in(annotation)) if isinstance(value, dict) else value
    return ordered


def _as_property(problem: ConfigProblem) -> ConfigProblem:
    # In a conversion the user wrote properties, not a connectorConfig map: name the property itself.
    found = re.fullmatch(r'spec\.connectorConfig\["(.+)"\]', problem.path)
    return ConfigProblem(found.group(1), problem.message) if found else problem


def render_conversion(conversion: Conversion, source: str) -> str:
    """The manifest as YAML, with the notes and a commented Secret manifest per literal credential."""
    lines = [f"# Converted by `olapsink convert` from {source}."]
    lines += [f"# note: {note}" for note in conversion.notes]
    lines.append(yaml.safe_dump(conversion.manifest, sort_keys=False, default_flow_style=False).rstrip())
    namespace = conversion.manifest["metadata"].get("namespace", "default")
    for secret_name, entries in _by_secret(conversion.secrets).items():
        lines.append(
            "# The connector config held credentials; they were not copied. Create this Secret first:"
        )
        lines.append(
            f"#   kubectl -n {namespace} create secret generic {secret_name} "
            + " ".join(f"--from-literal={e.secret_key}='...'" for e in entries)
        )
        lines.append("# ---")
        lines.append("# apiVersion: v1")
        lines.append("# kind: Secret")
        lines.append("# metadata:")
        lines.append(f"#   name: {secret_name}")
        lines.append(f"#   namespace: {namespace}")
        lines.append("# stringData:")
        lines += [f"#   {e.secret_key}: CHANGE-ME  # the value of {e.key}" for e in entries]
    return "\n".join(lines) + "\n"


def secret_hints(conversion: Conversion) -> list[str]:
    """One line per Secret to create, for stderr."""
    return [
        f"create Secret {name} with key(s) {', '.join(e.secret_key for e in entries)} "
        f"(values of {', '.join(sorted({e.key for e in entries}))} were not copied)"
        for name, entries in _by_secret(conversion.secrets).items()
    ]


def _by_secret(secrets: list[LiteralSecret]) -> dict[str, list[LiteralSecret]]:
    grouped: dict[str, list[LiteralSecret]] = {}
    for secret in secrets:
        entries = grouped.setdefault(secret.secret_name, [])
        if all(e.secret_key != secret.secret_key for e in entries):
            entries.append(secret)
    return grouped
