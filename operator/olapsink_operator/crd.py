"""The DorisSink and StarRocksSink CRDs, generated from the spec models.

    python -m olapsink_operator.crd           # (re)write crds/*.yaml
    python -m olapsink_operator.crd --check   # exit 1 if crds/ is stale

The pydantic JSON schema is turned into a Kubernetes structural schema: ``$ref`` inlined, ``X | None`` as
``nullable``, ``str | int`` as ``x-kubernetes-int-or-string``, free-form maps preserved, and no defaults
(the API server would store them, and a stored default would then contradict ``spec.connectorConfig``; the
defaults live in the models and in each field's description). Rules pydantic checks in code are added as
patterns and CEL ``x-kubernetes-validations`` where they fit.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from olapsink_worker.spec import GROUP, VERSION, DorisSinkSpec, SinkStatus, StarRocksSinkSpec
from olapsink_worker.spec.sections import LABEL_PATTERNS, LABEL_PREFIX_MAX_LENGTH
from pydantic import BaseModel

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
CATEGORY = "olapsinks"

# Cheap test of "the sink takes (some of) its settings from Kafka Connect properties". CEL on a nested
# object cannot see spec.connectorConfig, so every rule that such properties could satisfy sits on spec.
HAS_CONNECTOR_CONFIG = "(has(self.connectorConfig) && size(self.connectorConfig) > 0)"

KINDS: dict[str, dict[str, Any]] = {
    "DorisSink": {
        "model": DorisSinkSpec,
        "plural": "dorissinks",
        "short_names": ["dsink"],
        "flavor": "doris",
        "description": "Consumes Kafka topics into Apache Doris tables with Stream Load "
        "(replaces the doris-kafka-connector).",
    },
    "StarRocksSink": {
        "model": StarRocksSinkSpec,
        "plural": "starrockssinks",
        "short_names": ["srsink"],
        "flavor": "starrocks",
        "description": "Consumes Kafka topics into StarRocks tables with Stream Load "
        "(replaces the starrocks-connector-for-kafka).",
    },
}

_KEPT = ("type", "description", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems")


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as a Kubernetes structural OpenAPI v3 schema."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(schema, schema.get("$defs", {}))


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}  # the field's own description wins over the model's
    if "anyOf" in node:
        options = node.pop("anyOf")
        real = [o for o in options if o.get("type") != "null"]
        if len(real) == 1:
            converted = _convert({**real[0], **node}, defs)
        elif {o.get("type") for o in real} == {"string", "integer"}:
            converted = {"x-kubernetes-int-or-string": True, **_described(node)}
        else:
            raise ValueError(f"no structural equivalent for anyOf {options}")
        if len(real) < len(options):
            converted["nullable"] = True
        return converted
    out: dict[str, Any] = {key: node[key] for key in _KEPT if key in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if out.get("enum") and all(isinstance(v, str) for v in out["enum"]):
        # Bounds the strings CEL rules compare, so the API server's rule cost estimate stays small.
        out["maxLength"] = max(len(v) for v in out["enum"])
    if "exclusiveMinimum" in node:
        out["minimum"] = node["exclusiveMinimum"]
        out["exclusiveMinimum"] = True
    if "default" in node and isinstance(node["default"], str | int | float | bool) and "description" in out:
        out["description"] = f"{out['description'].rstrip('.')}. Default: {_scalar(node['default'])}."
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        out["type"] = "object"
        extra = node.get("additionalProperties")
        if "properties" in node:
            out["properties"] = {name: _convert(prop, defs) for name, prop in node["properties"].items()}
            if node.get("required"):
                out["required"] = list(node["required"])
            if extra is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
        elif isinstance(extra, dict) and extra:
            out["additionalProperties"] = _convert(extra, defs)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["items"] = _convert(node.get("items", {}), defs)
    elif not kind and not out.get("enum"):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _described(node: dict[str, Any]) -> dict[str, Any]:
    return {"description": node["description"]} if "description" in node else {}


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec_schema(kind: str) -> dict[str, Any]:
    """The spec schema of a kind with the CRD-only additions (patterns, CEL, relaxed required fields)."""
    info = KINDS[kind]
    schema = structural_schema(info["model"])
    schema["description"] = f"Desired state of the {kind}."
    props = schema["properties"]
    # Values are strings as the connectors' docs write them; numbers are let through (the models turn them
    # into strings). Booleans must be quoted: an untyped value would hide the whole map from CEL rules.
    props["connectorConfig"]["additionalProperties"] = {"x-kubernetes-int-or-string": True}
    props["load"]["properties"]["labelPrefix"]["pattern"] = LABEL_PATTERNS[info["flavor"]].pattern
    props["load"]["properties"]["labelPrefix"]["maxLength"] = LABEL_PREFIX_MAX_LENGTH
    props["kafka"]["properties"]["topics"]["items"]["pattern"] = r"^[a-zA-Z0-9._-]{1,249}$"

    rules = _relax_required(schema)
    rules += [
        _rule(
            f"{HAS_CONNECTOR_CONFIG} || "
            "(has(self.kafka) && (has(self.kafka.topics) || has(self.kafka.topicsRegex)))",
            "set spec.kafka.topics or spec.kafka.topicsRegex (or topics/topics.regex in connectorConfig)",
        ),
        _rule(
            f"{HAS_CONNECTOR_CONFIG} || !has(self.kafka) || !has(self.kafka.security) || "
            "((has(self.kafka.security.protocol) && self.kafka.security.protocol.startsWith('SASL_')) "
            "== has(self.kafka.security.sasl))",
            "spec.kafka.security.sasl is required with SASL_PLAINTEXT/SASL_SSL and not allowed otherwise",
        ),
        _rule(
            f"{HAS_CONNECTOR_CONFIG} || !has(self.errors) || !has(self.errors.deadLetterQueue) || "
            "!has(self.errors.deadLetterQueue.topic) || "
            "(has(self.errors.tolerance) && self.errors.tolerance == 'all')",
            "spec.errors.deadLetterQueue.topic needs spec.errors.tolerance: all",
        ),
    ]
    schema["x-kubernetes-validations"] = rules
    _local_rule(
        props["kafka"],
        "!(has(self.topics) && has(self.topicsRegex))",
        "set exactly one of topics and topicsRegex, not both",
    )
    _local_rule(
        props["kafka"]["properties"]["security"]["properties"]["tls"],
        "has(self.certSecretRef) == has(self.keySecretRef)",
        "a client certificate needs both certSecretRef and keySecretRef",
    )
    _local_rule(
        props["autoscaling"],
        "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
        "minReplicas must not exceed maxReplicas",
    )
    _local_rule(
        props["buffer"],
        "!has(self.memoryBudgetBytes) || !has(self.bytes) || self.memoryBudgetBytes >= self.bytes",
        "memoryBudgetBytes must be at least bytes",
    )
    _local_rule(
        props["load"],
        "!(has(self.groupCommit) && self.groupCommit != 'off' && has(self.twoPhaseCommit) "
        "&& self.twoPhaseCommit == 'enabled')",
        "group commit cannot be combined with two-phase commit",
    )
    if info["flavor"] == "starrocks":
        _local_rule(
            props["load"], "!has(self.groupCommit) || self.groupCommit == 'off'", "group commit is Doris only"
        )
    return schema


def _relax_required(spec: dict[str, Any]) -> list[dict[str, str]]:
    """Fields that Kafka Connect properties can supply cannot be required by the schema: each becomes a CEL
    rule that holds when it is set or when spec.connectorConfig is used (the operator then checks it)."""
    rules = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        for name in node.pop("required", []):
            child = node["properties"][name]
            if child.get("type") == "object" and "properties" in child and child["properties"]:
                nested_required = list(child.get("required", []))
                walk(child, [*path, name])
                if nested_required:
                    continue
            checks = " && ".join(
                f"has(self.{'.'.join([*path, name][: i + 1])})" for i in range(len(path) + 1)
            )
            rules.append(
                _rule(
                    f"{HAS_CONNECTOR_CONFIG} || ({checks})",
                    f"spec.{'.'.join([*path, name])} is required (unless spec.connectorConfig sets it)",
                )
            )

    walk(spec, [])
    return rules


def _rule(rule: str, message: str) -> dict[str, str]:
    return {"rule": rule, "message": message}


def _local_rule(node: dict[str, Any], rule: str, message: str) -> None:
    node.setdefault("x-kubernetes-validations", []).append(_rule(rule, message))


def status_schema() -> dict[str, Any]:
    schema = structural_schema(SinkStatus)
    schema["description"] = "Observed state, written by the operator."
    schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def crd(kind: str) -> dict[str, Any]:
    """The CustomResourceDefinition of ``kind`` as a plain dict."""
    info = KINDS[kind]
    plural = info["plural"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "olapsink"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": info["short_names"],
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "State", "type": "string", "jsonPath": ".status.state"},
                        {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
                        {"name": "Lag", "type": "integer", "jsonPath": ".status.lag.total"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": info["description"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(kind),
                                "status": status_schema(),
                            },
                            "required": ["spec"],
                        }
                    },
                }
            ],
        },
    }


def render_crds() -> dict[str, str]:
    """File name → YAML text, for every kind."""
    header = "# Generated by `python -m olapsink_operator.crd` from olapsink_worker.spec. Do not edit.\n"
    return {
        f"{info['plural']}.{GROUP}.yaml": header
        + yaml.safe_dump(copy.deepcopy(crd(kind)), sort_keys=False, width=110)
        for kind, info in KINDS.items()
    }


def stale_files(directory: Path = CRD_DIR) -> list[str]:
    """Files in ``directory`` that differ from what the models generate (or are missing)."""
    return [
        name
        for name, text in render_crds().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m olapsink_operator.crd", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    parser.add_argument("--dir", type=Path, default=CRD_DIR, help="output directory (default: crds/)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name} (run python -m olapsink_operator.crd)", file=sys.stderr)
        return 1 if stale else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_crds().items():
        (args.dir / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
