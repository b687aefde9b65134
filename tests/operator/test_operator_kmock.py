"""The real operator (kopf) against a kmock API server: what a user sees after each action."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from olapsink_operator import labels

from tests.operator.kube_api import KubeApi, eventually, running_kube_api, running_operator
from tests.operator.support import manifest_body

SINK = ("olapsink.io/v1alpha1", "DorisSink")


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    with running_kube_api(tmp_path) as api:
        yield api


@pytest.fixture
def operator(kube_api: KubeApi) -> Iterator[Any]:
    with running_operator(kube_api) as runner:
        yield runner


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _doris_sink(api: KubeApi) -> dict[str, Any]:
    """Create the example DorisSink (with its Secrets), Kafka/Doris on closed local ports."""
    body = manifest_body("doris-orders")
    body["metadata"].pop("generation")
    body["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1"
    body["spec"]["kafka"]["security"] = {"protocol": "PLAINTEXT"}
    body["spec"]["doris"]["feHosts"] = ["127.0.0.1"]
    body["spec"]["doris"]["httpPort"] = 1
    api.create(_secret("doris-cred", "shop", {"password": "s3cr3t-one"}))
    return api.create(body)


def _deployment(api: KubeApi) -> dict[str, Any] | None:
    return api.get("apps/v1", "Deployment", "shop", "orders-doris-worker")


def _sink(api: KubeApi) -> dict[str, Any]:
    sink = api.get(*SINK, "shop", "orders")
    assert sink is not None
    return sink


def test_create_makes_owned_deployment_configmap_service_and_pdb(kube_api: KubeApi, operator: Any) -> None:
    sink = _doris_sink(kube_api)
    uid = sink["metadata"]["uid"]
    children = [
        ("apps/v1", "Deployment", "orders-doris-worker"),
        ("v1", "ConfigMap", "orders-doris-config"),
        ("v1", "Service", "orders-doris-metrics"),
        ("policy/v1", "PodDisruptionBudget", "orders-doris-worker"),
    ]
    for api_version, kind, name in children:
        child = eventually(lambda a=api_version, k=kind, n=name: kube_api.get(a, k, "shop", n))
        owners = child["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"], o["controller"]) for o in owners] == [
            ("DorisSink", "orders", uid, True)
        ]
    assert eventually(lambda: _deployment(kube_api))["spec"]["replicas"] == 2
    status = eventually(
        lambda: _sink(kube_api).get("status", {}).get("selector") and _sink(kube_api)["status"]
    )
    assert status["selector"] == labels.selector_string("orders", "doris")
    assert status["tables"] == ["finance.refunds", "shop.orders_tbl"]
    # kopf's bookkeeping lives under our group, never under kopf.zalando.org.
    annotations = eventually(
        lambda: (
            "olapsink.io/last-handled-configuration" in (a := _sink(kube_api)["metadata"]["annotations"])
            and a
        )
    )
    assert not [key for key in annotations if key.startswith("kopf.zalando.org")]
    assert "Created" in eventually(lambda: _event_reasons(kube_api))


def _template_annotations(api: KubeApi) -> dict[str, str]:
    deployment = _deployment(api)
    assert deployment is not None
    annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
    return annotations


def _condition(api: KubeApi, type_: str) -> dict[str, Any] | None:
    for cond in _sink(api).get("status", {}).get("conditions") or []:
        if cond["type"] == type_:
            return dict(cond)
    return None


def _event_reasons(api: KubeApi) -> list[str]:
    return [e["reason"] for e in api.events("shop") if e["involvedObject"]["name"] == "orders"]


def test_spec_change_updates_configmap_and_pod_template_hash(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    before = eventually(lambda: _deployment(kube_api) and _template_annotations(kube_api))
    kube_api.merge_patch(*SINK, "shop", "orders", {"spec": {"doris": {"database": "shop_v2"}}})
    after = eventually(
        lambda: (
            (a := _template_annotations(kube_api))[labels.CONFIG_HASH_ANNOTATION]
            != before[labels.CONFIG_HASH_ANNOTATION]
            and a
        )
    )
    assert after[labels.SECRETS_HASH_ANNOTATION] == before[labels.SECRETS_HASH_ANNOTATION]
    config = kube_api.get("v1", "ConfigMap", "shop", "orders-doris-config")
    assert config is not None
    assert "database: shop_v2" in config["data"]["sink.yaml"]
    assert "RollingRestart" in eventually(
        lambda: "RollingRestart" in _event_reasons(kube_api) and _event_reasons(kube_api)
    )


def test_secret_change_changes_the_secrets_hash_and_no_value_leaks(
    kube_api: KubeApi, operator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _doris_sink(kube_api)
    before = eventually(lambda: _deployment(kube_api) and _template_annotations(kube_api))
    rotated = {"data": {"password": base64.b64encode(b"rotated-pw").decode()}}
    kube_api.merge_patch("v1", "Secret", "shop", "doris-cred", rotated)
    after = eventually(
        lambda: (
            (a := _template_annotations(kube_api))[labels.SECRETS_HASH_ANNOTATION]
            != before[labels.SECRETS_HASH_ANNOTATION]
            and a
        )
    )
    assert after[labels.CONFIG_HASH_ANNOTATION] == before[labels.CONFIG_HASH_ANNOTATION]
    # Neither value, plain or base64, is anywhere the operator writes or logs.
    written = str(_sink(kube_api).get("status")) + str(kube_api.events("shop")) + str(_deployment(kube_api))
    operator_logs = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("kopf", "olapsink_operator"))
    )
    assert "secret_changed" in operator_logs  # the capture saw the operator handle the rotation
    for value in (b"s3cr3t-one", b"rotated-pw"):
        for form in (value.decode(), base64.b64encode(value).decode()):
            assert form not in written
            assert form not in operator_logs


def test_scale_changes_worker_replicas_and_posts_an_event(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    # What `kubectl scale dorissink/orders --replicas=3` writes through the scale subresource.
    kube_api.merge_patch(*SINK, "shop", "orders", {"spec": {"replicas": 3}})
    eventually(lambda: _deployment(kube_api)["spec"]["replicas"] == 3)  # type: ignore[index]
    eventually(lambda: _sink(kube_api)["status"].get("desiredReplicas") == 3)
    assert "Scaled" in eventually(lambda: "Scaled" in _event_reasons(kube_api) and _event_reasons(kube_api))


def test_pause_scales_to_zero_and_resume_brings_workers_back(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    kube_api.merge_patch(*SINK, "shop", "orders", {"spec": {"state": "Paused"}})
    eventually(lambda: _deployment(kube_api)["spec"]["replicas"] == 0)  # type: ignore[index]
    ready = eventually(lambda: (c := _condition(kube_api, "Ready")) and c["reason"] == "Paused" and c)
    assert ready["status"] == "False"
    assert _sink(kube_api)["status"]["state"] == "Paused"
    # Everything else stays.
    assert kube_api.get("v1", "ConfigMap", "shop", "orders-doris-config") is not None
    assert kube_api.get("v1", "Service", "shop", "orders-doris-metrics") is not None

    kube_api.merge_patch(*SINK, "shop", "orders", {"spec": {"state": "Running"}})
    eventually(lambda: _deployment(kube_api)["spec"]["replicas"] == 2)  # type: ignore[index]
    reasons = eventually(lambda: "Resumed" in (r := _event_reasons(kube_api)) and r)
    assert "Paused" in reasons


def test_restart_annotation_rolls_the_workers(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    before = eventually(lambda: _deployment(kube_api) and _template_annotations(kube_api))
    assert before[labels.RESTART_ANNOTATION] == "2026-11-21T05:00:00Z"
    kube_api.merge_patch(
        *SINK, "shop", "orders", {"metadata": {"annotations": {labels.RESTART_ANNOTATION: "again"}}}
    )
    eventually(lambda: _template_annotations(kube_api)[labels.RESTART_ANNOTATION] == "again")


def test_ready_follows_the_deployment_status(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    not_ready = eventually(lambda: _condition(kube_api, "Ready"))
    assert not_ready["status"] == "False"
    # kmock has no Deployment controller: play its part.
    status = {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    kube_api.merge_patch("apps/v1", "Deployment", "shop", "orders-doris-worker", {"status": status})
    ready = eventually(lambda: (c := _condition(kube_api, "Ready")) and c["status"] == "True" and c)
    assert ready["reason"] == "WorkersReady"
    assert _sink(kube_api)["status"]["readyReplicas"] == 2


def test_invalid_spec_sets_ready_false_with_the_field_path_and_rolls_out_nothing(
    kube_api: KubeApi, operator: Any
) -> None:
    body = manifest_body("doris-orders")
    body["spec"]["buffer"] = {"records": -5}
    kube_api.create(body)
    ready = eventually(lambda: _condition(kube_api, "Ready"))
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "spec.buffer.records" in ready["message"]
    assert _deployment(kube_api) is None
    assert kube_api.get("v1", "ConfigMap", "shop", "orders-doris-config") is None
    assert "InvalidSpec" in eventually(lambda: _event_reasons(kube_api))


def test_missing_secret_is_reported_and_nothing_rolls_out(kube_api: KubeApi, operator: Any) -> None:
    body = manifest_body("doris-orders")
    body["spec"]["kafka"]["security"] = {"protocol": "PLAINTEXT"}
    kube_api.create(body)
    ready = eventually(lambda: _condition(kube_api, "Ready"))
    assert (ready["status"], ready["reason"]) == ("False", "SecretNotFound")
    assert "doris-cred" in ready["message"]
    assert _deployment(kube_api) is None


def test_deleted_sink_leaves_only_owned_children_and_no_finalizer(kube_api: KubeApi, operator: Any) -> None:
    sink = _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    assert not _sink(kube_api)["metadata"].get("finalizers")
    kube_api.delete(*SINK, "shop", "orders")
    eventually(lambda: kube_api.get(*SINK, "shop", "orders") is None, timeout=5)
    # kmock has no garbage collector; in a cluster it deletes these through their owner reference.
    for api_version, kind, name in [
        ("apps/v1", "Deployment", "orders-doris-worker"),
        ("v1", "ConfigMap", "orders-doris-config"),
        ("v1", "Service", "orders-doris-metrics"),
        ("policy/v1", "PodDisruptionBudget", "orders-doris-worker"),
    ]:
        child = kube_api.get(api_version, kind, "shop", name)
        assert child is not None
        assert [o["uid"] for o in child["metadata"]["ownerReferences"]] == [sink["metadata"]["uid"]]


def test_deleted_deployment_is_recreated(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    kube_api.delete("apps/v1", "Deployment", "shop", "orders-doris-worker")
    eventually(lambda: _deployment(kube_api) is None, timeout=5)
    recreated = eventually(lambda: _deployment(kube_api))
    assert recreated["spec"]["replicas"] == 2


def test_object_of_the_same_name_not_owned_by_the_sink_is_left_alone(
    kube_api: KubeApi, operator: Any
) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "orders-doris-config", "namespace": "shop"},
        "data": {"keep": "me"},
    }
    kube_api.create(foreign)
    _doris_sink(kube_api)
    ready = eventually(lambda: _condition(kube_api, "Ready"))
    assert (ready["status"], ready["reason"]) == ("False", "NameConflict")
    config = kube_api.get("v1", "ConfigMap", "shop", "orders-doris-config")
    assert config is not None and config["data"] == {"keep": "me"}


def test_deployment_of_a_deleted_sink_is_not_resurrected(kube_api: KubeApi, operator: Any) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api) and _condition(kube_api, "Ready"))
    time.sleep(1)  # let reconciles in flight finish: one that began before the delete may still create
    kube_api.delete(*SINK, "shop", "orders")
    # What the garbage collector does next in a cluster.
    kube_api.delete("apps/v1", "Deployment", "shop", "orders-doris-worker")
    time.sleep(3)  # a resurrection would come from the Deployment's DELETED event, within a second
    assert _deployment(kube_api) is None


def test_starrocks_sink_created_paused_has_zero_workers_and_its_own_names(
    kube_api: KubeApi, operator: Any
) -> None:
    body = manifest_body("starrocks-users")  # state: Paused, no Secrets referenced
    body["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1"
    body["spec"]["starrocks"]["httpUrls"] = ["127.0.0.1:1"]
    body["metadata"].pop("generation")
    kube_api.create(body)
    deployment = eventually(lambda: kube_api.get("apps/v1", "Deployment", "crm", "users-starrocks-worker"))
    assert deployment["spec"]["replicas"] == 0
    eventually(lambda: kube_api.get("v1", "Service", "crm", "users-starrocks-metrics"))
    sink = eventually(
        lambda: (
            (s := kube_api.get("olapsink.io/v1alpha1", "StarRocksSink", "crm", "users"))
            and s.get("status", {}).get("state") == "Paused"
            and s
        )
    )
    assert "app.kubernetes.io/component=starrocks-sink" in sink["status"]["selector"]


def test_a_worker_stopped_on_a_fatal_error_shows_in_degraded(kube_api: KubeApi) -> None:
    with running_operator(kube_api, {"OLAPSINK_READ_WORKER_PODS": "true"}):
        _a_worker_stops_on_a_fatal_error(kube_api)


def _a_worker_stops_on_a_fatal_error(kube_api: KubeApi) -> None:
    _doris_sink(kube_api)
    eventually(lambda: _deployment(kube_api))
    report = (
        '{"state": "Failed", "reason": "TableNotFound", "message": "table shop.orders_tbl does not exist"}'
    )
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "orders-doris-worker-abc-1",
                "namespace": "shop",
                "labels": labels.selector_labels("orders", "doris"),
            },
            "status": {
                "containerStatuses": [
                    {
                        "name": "worker",
                        "ready": False,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 2, "message": report}},
                    }
                ]
            },
        }
    )
    # The Deployment controller would now report the pod unavailable.
    status = {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}
    kube_api.merge_patch("apps/v1", "Deployment", "shop", "orders-doris-worker", {"status": status})
    degraded = eventually(
        lambda: (c := _condition(kube_api, "Degraded")) and c["reason"] == "WorkerFatalError" and c
    )
    assert "TableNotFound" in degraded["message"] and "orders-doris-worker-abc-1" in degraded["message"]
    assert "WorkerFatalError" in eventually(
        lambda: "WorkerFatalError" in (r := _event_reasons(kube_api)) and r
    )


AVRO_SINK = ("olapsink.io/v1alpha1", "DorisSink", "web", "clicks")
# Leaves the ConfigMap watch to bring a change in: the refresher runs once at start, then not again.
# (kmock's constant resourceVersion makes kopf rerun the sink's own handler for a while after each of
# its patches, so the tests also check the log for the ConfigMap handler.)
WATCHES_ONLY = {"OLAPSINK_REFRESH_SECONDS": "3600"}


def _handled_config_map_change(caplog: pytest.LogCaptureFixture) -> bool:
    return any("config_map_changed" in r.getMessage() for r in caplog.records if r.name.startswith("kopf"))


def _avro_sink(api: KubeApi) -> dict[str, Any]:
    """The example sink whose relative schema paths are keys of ConfigMap clicks-avro."""
    body = manifest_body("doris-avro")
    body["metadata"].pop("generation")
    body["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1"
    body["spec"]["doris"].update(feHosts=["127.0.0.1"], httpPort=1)
    return api.create(body)


def _schema_config_map(schema: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "clicks-avro", "namespace": "web"},
        "data": {"clicks.avsc": schema},
    }


def _avro_condition(api: KubeApi, type_: str) -> dict[str, Any] | None:
    sink = api.get(*AVRO_SINK) or {}
    return next((dict(c) for c in sink.get("status", {}).get("conditions") or [] if c["type"] == type_), None)


def _avro_deployment(api: KubeApi) -> dict[str, Any] | None:
    return api.get("apps/v1", "Deployment", "web", "clicks-doris-worker")


def _avro_template_annotations(api: KubeApi) -> dict[str, str] | None:
    deployment = _avro_deployment(api)
    return None if deployment is None else dict(deployment["spec"]["template"]["metadata"]["annotations"])


def _avro_event_reasons(api: KubeApi) -> list[str]:
    return [e["reason"] for e in api.events("web") if e["involvedObject"]["name"] == "clicks"]


def test_missing_schema_config_map_is_reported_and_nothing_rolls_out_until_it_exists(
    kube_api: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_operator(kube_api, WATCHES_ONLY):
        _avro_sink(kube_api)
        ready = eventually(lambda: _avro_condition(kube_api, "Ready"))
        assert (ready["status"], ready["reason"]) == ("False", "ConfigMapNotFound")
        assert "clicks-avro" in ready["message"] and "spec.converter.avroSchemaConfigMap" in ready["message"]
        assert "ConfigMapNotFound" in eventually(lambda: _avro_event_reasons(kube_api))
        assert _avro_deployment(kube_api) is None
        assert kube_api.get("v1", "ConfigMap", "web", "clicks-doris-config") is None

        kube_api.create(_schema_config_map('{"type": "record", "name": "Click", "fields": []}'))
        annotations = eventually(lambda: _avro_template_annotations(kube_api))
        assert annotations[labels.AVRO_SCHEMAS_HASH_ANNOTATION]
        ready = eventually(
            lambda: (c := _avro_condition(kube_api, "Ready")) and c["reason"] != "ConfigMapNotFound" and c
        )
        assert ready["reason"] != "ConfigMapNotFound"
        assert _handled_config_map_change(caplog)


def test_schema_config_map_change_rolls_the_workers(
    kube_api: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_operator(kube_api, WATCHES_ONLY):
        kube_api.create(_schema_config_map('{"type": "record", "name": "Click", "fields": []}'))
        _avro_sink(kube_api)
        before = eventually(lambda: _avro_template_annotations(kube_api))
        changed = '{"type": "record", "name": "Click", "fields": [{"name": "id", "type": "long"}]}'
        kube_api.merge_patch("v1", "ConfigMap", "web", "clicks-avro", {"data": {"clicks.avsc": changed}})
        after = eventually(
            lambda: (
                (a := _avro_template_annotations(kube_api))
                and a[labels.AVRO_SCHEMAS_HASH_ANNOTATION] != before[labels.AVRO_SCHEMAS_HASH_ANNOTATION]
                and a
            )
        )
        assert after[labels.CONFIG_HASH_ANNOTATION] == before[labels.CONFIG_HASH_ANNOTATION]
        assert "RollingRestart" in eventually(
            lambda: "RollingRestart" in (r := _avro_event_reasons(kube_api)) and r
        )
        rolling = [e for e in kube_api.events("web") if e["reason"] == "RollingRestart"]
        assert "Avro schemas" in rolling[-1]["message"]
        assert _handled_config_map_change(caplog)


def test_relative_schema_path_without_a_config_map_is_an_invalid_spec(
    kube_api: KubeApi, operator: Any
) -> None:
    body = manifest_body("doris-avro")
    del body["spec"]["converter"]["avroSchemaConfigMap"]
    kube_api.create(body)
    ready = eventually(lambda: _avro_condition(kube_api, "Ready"))
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.converter.avroSchemaFiles.clicks" in ready["message"]
    assert _avro_deployment(kube_api) is None
