"""Create or patch one rendered child, idempotently, and only when it differs from what is there.

Comparison is "desired is a subset of existing": the API server adds defaults (container
terminationMessagePath, Deployment progressDeadlineSeconds, ...) which must not count as drift,
or every refresh would patch. When the desired body part differs it replaces that part wholesale
with a JSON patch, so fields the user removed from the spec disappear from the child too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from olapsink_operator.kube import KubeClient

# The part of each kind that the operator owns entirely.
_BODY_KEYS = {"ConfigMap": "data"}
Action = Literal["created", "updated", "unchanged", "conflict"]


@dataclass(frozen=True)
class ApplyResult:
    action: Action
    previous: Mapping[str, Any] | None  # the object before the change (None if created)


def is_subset(desired: Any, existing: Any) -> bool:
    """True when every value in ``desired`` is present and equal in ``existing`` (dicts recursively,
    lists element by element and of equal length)."""
    if isinstance(desired, Mapping):
        return isinstance(existing, Mapping) and all(
            key in existing and is_subset(value, existing[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(existing, list)
            and len(desired) == len(existing)
            and all(is_subset(d, e) for d, e in zip(desired, existing, strict=True))
        )
    return bool(desired == existing)


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in obj.get("metadata", {}).get("ownerReferences") or [])


def patch_ops(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON-patch operations that bring ``existing`` to ``desired`` for the fields the operator owns.

    Labels are added key by key (others' labels stay); owner references and the body are replaced.
    """
    ops: list[dict[str, Any]] = []
    have_meta = existing.get("metadata", {})
    want_meta = desired["metadata"]
    have_labels = have_meta.get("labels")
    if have_labels is None:
        ops.append({"op": "add", "path": "/metadata/labels", "value": dict(want_meta.get("labels", {}))})
    else:
        for key, value in want_meta.get("labels", {}).items():
            if have_labels.get(key) != value:
                ops.append({"op": "add", "path": _pointer("metadata", "labels", key), "value": value})
    if not is_subset(want_meta.get("ownerReferences", []), have_meta.get("ownerReferences") or []):
        ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": want_meta["ownerReferences"]})
    body_key = _BODY_KEYS.get(desired["kind"], "spec")
    if not is_subset(desired.get(body_key, {}), existing.get(body_key, {})) or (
        body_key == "data" and existing.get("data") != desired.get("data")
    ):
        ops.append({"op": "add", "path": f"/{body_key}", "value": desired.get(body_key, {})})
    return ops


def apply_child(kube: KubeClient, desired: Mapping[str, Any], owner_uid: str) -> ApplyResult:
    """Create ``desired`` or patch it into shape. Never touches an object the sink does not own."""
    meta = desired["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    existing = kube.get(desired["apiVersion"], desired["kind"], namespace, name)
    if existing is None:
        kube.create(desired)
        return ApplyResult("created", None)
    if not owned_by(existing, owner_uid):
        return ApplyResult("conflict", existing)
    ops = patch_ops(existing, desired)
    if not ops:
        return ApplyResult("unchanged", existing)
    kube.json_patch(desired["apiVersion"], desired["kind"], namespace, name, ops)
    return ApplyResult("updated", existing)
