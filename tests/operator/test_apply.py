"""Create-or-patch decisions: server defaults are no drift, owned fields are replaced, others' labels stay."""

from __future__ import annotations

import copy
from typing import Any

from olapsink_operator.apply import is_subset, owned_by, patch_ops

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "x-doris-worker",
        "namespace": "ns",
        "labels": {"app.kubernetes.io/name": "olapsink-worker"},
        "ownerReferences": [{"kind": "DorisSink", "name": "x", "uid": "u1", "controller": True}],
    },
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "worker", "image": "i:1"}]}}},
}


def _existing() -> dict[str, Any]:
    existing = copy.deepcopy(DESIRED)
    # What the API server and other controllers add.
    existing["metadata"]["labels"]["team"] = "data"
    existing["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "3"}
    existing["spec"]["progressDeadlineSeconds"] = 600
    existing["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    existing["status"] = {"readyReplicas": 2}
    return existing


def test_server_defaults_are_not_drift() -> None:
    assert patch_ops(_existing(), DESIRED) == []


def test_changed_spec_replaces_the_whole_spec() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["replicas"] = 3
    assert patch_ops(_existing(), desired) == [{"op": "add", "path": "/spec", "value": desired["spec"]}]


def test_changed_label_is_set_key_by_key_so_other_labels_stay() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["metadata"]["labels"]["app.kubernetes.io/part-of"] = "olapsink"
    assert patch_ops(_existing(), desired) == [
        {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1part-of", "value": "olapsink"}
    ]


def test_removed_configmap_key_is_drift() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": DESIRED["metadata"], "data": {"a": "1"}}
    existing = {**copy.deepcopy(desired), "data": {"a": "1", "b": "2"}}
    assert patch_ops(existing, desired) == [{"op": "add", "path": "/data", "value": {"a": "1"}}]


def test_lists_must_match_in_length() -> None:
    assert not is_subset([1], [1, 2])
    assert is_subset([{"a": 1}], [{"a": 1, "b": 2}])


def test_ownership_is_by_uid() -> None:
    assert owned_by(DESIRED, "u1")
    assert not owned_by(DESIRED, "u2")
