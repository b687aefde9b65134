"""Shared helpers of the operator tests: example manifests and rendering them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from olapsink_operator.reconcile import normalised_manifest
from olapsink_operator.render import RenderInputs
from olapsink_worker.spec import parse_manifest

MANIFESTS = Path(__file__).parent / "manifests"
GOLDEN = Path(__file__).parent / "golden"


def manifest_body(name: str) -> dict[str, Any]:
    """The raw object from tests/operator/manifests/<name>.yaml, as the API server would hold it."""
    body: dict[str, Any] = yaml.safe_load((MANIFESTS / f"{name}.yaml").read_text())
    return copy.deepcopy(body)


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    return normalised_manifest(parse_manifest(copy.deepcopy(body)), body)


def inputs(
    replicas: int = 2,
    secrets_hash: str = "0123456789abcdef",
    restart: str | None = None,
    avro_schemas_hash: str | None = None,
) -> RenderInputs:
    return RenderInputs(
        replicas=replicas,
        secrets_hash=secrets_hash,
        default_image="ghcr.io/olapsink/olapsink:0.1.0",
        restart=restart,
        avro_schemas_hash=avro_schemas_hash,
    )
