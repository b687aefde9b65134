"""Rendering of a sink's children, pinned by golden YAML.

Regenerate the golden files after an intended change with
``OLAPSINK_REGEN_GOLDEN=1 pytest tests/operator/test_render.py`` and review the diff.
"""

from __future__ import annotations

import os
from typing import Any

import kubernetes_validate
import pytest
import yaml
from olapsink_operator import avroschemas, labels
from olapsink_operator.render import render_children, render_deployment
from olapsink_operator.secretrefs import SecretRef, env_name_for, find_secret_refs, secrets_hash

from tests.operator.support import GOLDEN, inputs, manifest_body, normalised

CASES: dict[str, dict[str, Any]] = {
    "doris-orders": {"restart": "2026-11-21T05:00:00Z", "replicas": 2},
    "starrocks-users": {"restart": None, "replicas": 0},
    "doris-avro": {"restart": None, "replicas": 1, "avro_schemas_hash": "fedcba9876543210"},
}


def _render(case: str) -> list[dict[str, Any]]:
    body = manifest_body(case)
    return render_children(normalised(body), inputs(**CASES[case]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_children_match_golden_yaml(case: str) -> None:
    rendered = yaml.safe_dump_all(_render(case), sort_keys=True)
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("OLAPSINK_REGEN_GOLDEN") == "1":
        golden.write_text(rendered)
    assert rendered == golden.read_text(), f"rendering changed; regenerate {golden} if intended"


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_children_are_valid_kubernetes_objects(case: str) -> None:
    for child in _render(case):
        kubernetes_validate.validate(child, "1.33", strict=True)


def _template_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_spec_change_changes_the_config_hash_on_the_pod_template() -> None:
    body = manifest_body("doris-orders")
    before = _template_annotations(render_deployment(normalised(body), inputs()))
    body["spec"]["doris"]["database"] = "shop_v2"
    after = _template_annotations(render_deployment(normalised(body), inputs()))
    assert before[labels.CONFIG_HASH_ANNOTATION] != after[labels.CONFIG_HASH_ANNOTATION]


def test_status_and_annotations_do_not_change_the_config_hash() -> None:
    body = manifest_body("doris-orders")
    before = _template_annotations(render_deployment(normalised(body), inputs()))
    body["status"] = {"state": "Running"}
    body["metadata"]["annotations"]["olapsink.io/last-handled-configuration"] = "{}"
    body["metadata"]["resourceVersion"] = "999"
    after = _template_annotations(render_deployment(normalised(body), inputs()))
    assert before == after


def test_restart_annotation_value_reaches_the_pod_template() -> None:
    manifest = normalised(manifest_body("doris-orders"))
    first = _template_annotations(render_deployment(manifest, inputs(restart="1")))
    second = _template_annotations(render_deployment(manifest, inputs(restart="2")))
    assert first[labels.RESTART_ANNOTATION] == "1"
    assert second[labels.RESTART_ANNOTATION] == "2"


def test_secret_value_change_changes_the_secrets_hash_but_the_value_is_nowhere_in_the_output() -> None:
    manifest = normalised(manifest_body("doris-orders"))
    refs = find_secret_refs(manifest["spec"])
    values = {(r.secret, r.key): b"s3cret-one" for r in refs}
    rotated = {**values, ("doris-cred", "password"): b"s3cret-two"}
    assert secrets_hash(refs, values) != secrets_hash(refs, rotated)
    rendered = yaml.safe_dump_all(render_children(manifest, inputs(secrets_hash=secrets_hash(refs, values))))
    assert "s3cret" not in rendered


def test_every_secret_reference_is_mounted_and_named_in_env() -> None:
    deployment = render_deployment(normalised(manifest_body("doris-orders")), inputs())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OLAPSINK_DB_PASSWORD_FILE"] == "/etc/olapsink/secrets/doris-cred/password"
    assert env["OLAPSINK_KAFKA_SASL_USERNAME_FILE"] == "/etc/olapsink/secrets/kafka-user/username"
    assert env["OLAPSINK_KAFKA_SASL_PASSWORD_FILE"] == "/etc/olapsink/secrets/kafka-user/password"
    assert env["OLAPSINK_KAFKA_TLS_CA_FILE"] == "/etc/olapsink/secrets/kafka-ca/ca.crt"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {
        "/etc/olapsink/secrets/doris-cred",
        "/etc/olapsink/secrets/kafka-user",
        "/etc/olapsink/secrets/kafka-ca",
    } <= mounts


def test_user_env_cannot_shadow_the_secret_file_contract() -> None:
    body = manifest_body("doris-orders")
    body["spec"]["worker"]["env"].append({"name": "OLAPSINK_DB_PASSWORD_FILE", "value": "/elsewhere"})
    container = render_deployment(normalised(body), inputs())["spec"]["template"]["spec"]["containers"][0]
    values = [e.get("value") for e in container["env"] if e["name"] == "OLAPSINK_DB_PASSWORD_FILE"]
    assert values == ["/etc/olapsink/secrets/doris-cred/password"]


def test_workers_run_non_root_with_a_read_only_root_file_system() -> None:
    pod = render_deployment(normalised(manifest_body("starrocks-users")), inputs())["spec"]["template"][
        "spec"
    ]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"][0]["containerPort"] == 9500


def test_long_sink_names_give_valid_label_values_and_service_names() -> None:
    body = manifest_body("starrocks-users")
    body["metadata"]["name"] = "a" * 120
    for child in render_children(normalised(body), inputs()):
        kubernetes_validate.validate(child, "1.33", strict=True)
        for value in child["metadata"]["labels"].values():
            assert len(value) <= 63


@pytest.mark.parametrize(
    ("path", "env"),
    [
        ("doris.passwordSecretRef", "OLAPSINK_DB_PASSWORD_FILE"),
        ("starrocks.passwordSecretRef", "OLAPSINK_DB_PASSWORD_FILE"),
        ("doris.tls.caSecretRef", "OLAPSINK_DB_TLS_CA_FILE"),
        ("kafka.security.tls.keySecretRef", "OLAPSINK_KAFKA_TLS_KEY_FILE"),
        ("converter.schemaRegistry.basicAuthSecretRef", "OLAPSINK_SCHEMA_REGISTRY_BASIC_AUTH_FILE"),
    ],
)
def test_env_names_of_secret_fields(path: str, env: str) -> None:
    assert env_name_for(path) == env
    assert SecretRef(path, "s", "k").env_name == env


def _worker_pod(body: dict[str, Any], avro_schemas_hash: str | None = None) -> dict[str, Any]:
    deployment = render_deployment(normalised(body), inputs(avro_schemas_hash=avro_schemas_hash))
    pod: dict[str, Any] = deployment["spec"]["template"]
    return pod


def test_schema_config_map_is_mounted_read_only_and_named_in_env() -> None:
    from olapsink_worker.formats.avro import SCHEMA_DIR_ENV

    pod = _worker_pod(manifest_body("doris-avro"), avro_schemas_hash="fedcba9876543210")
    (container,) = pod["spec"]["containers"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/olapsink/avro")
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["configMap"]["name"] == "clicks-avro"
    # The worker resolves the relative avroSchemaFiles paths against this variable.
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[SCHEMA_DIR_ENV] == "/etc/olapsink/avro"
    assert pod["metadata"]["annotations"][labels.AVRO_SCHEMAS_HASH_ANNOTATION] == "fedcba9876543210"


def test_user_env_cannot_move_the_schema_directory() -> None:
    body = manifest_body("doris-avro")
    body["spec"]["worker"] = {"env": [{"name": "OLAPSINK_AVRO_SCHEMA_DIR", "value": "/elsewhere"}]}
    (container,) = _worker_pod(body)["spec"]["containers"]
    values = [e["value"] for e in container["env"] if e["name"] == "OLAPSINK_AVRO_SCHEMA_DIR"]
    assert values == ["/etc/olapsink/avro"]


def test_sink_without_a_schema_config_map_mounts_none() -> None:
    pod = _worker_pod(manifest_body("doris-orders"))
    assert labels.AVRO_SCHEMAS_HASH_ANNOTATION not in pod["metadata"]["annotations"]
    assert not [v for v in pod["spec"]["volumes"] if v["name"] == "avro-schemas"]
    assert "OLAPSINK_AVRO_SCHEMA_DIR" not in {e["name"] for e in pod["spec"]["containers"][0]["env"]}


def test_schema_config_map_data_change_changes_its_hash_only() -> None:
    config_map = {"metadata": {"name": "clicks-avro"}, "data": {"clicks.avsc": '{"type": "record"}'}}
    changed = {**config_map, "data": {"clicks.avsc": '{"type": "record", "name": "C"}'}}
    before = avroschemas.config_map_hash(config_map)
    assert avroschemas.config_map_hash(changed) != before
    assert avroschemas.config_map_hash({**config_map, "metadata": {"name": "x", "uid": "1"}}) == before
    body = manifest_body("doris-avro")
    first = _worker_pod(body, before)["metadata"]["annotations"]
    second = _worker_pod(body, avroschemas.config_map_hash(changed))["metadata"]["annotations"]
    assert first[labels.CONFIG_HASH_ANNOTATION] == second[labels.CONFIG_HASH_ANNOTATION]
    assert first[labels.AVRO_SCHEMAS_HASH_ANNOTATION] != second[labels.AVRO_SCHEMAS_HASH_ANNOTATION]


def test_relative_schema_path_without_a_config_map_is_a_problem_naming_the_topic() -> None:
    body = manifest_body("doris-avro")
    del body["spec"]["converter"]["avroSchemaConfigMap"]
    problems = avroschemas.pod_problems(normalised(body)["spec"])
    assert [p.path for p in problems] == ["spec.converter.avroSchemaFiles.clicks"]
    assert "avroSchemaConfigMap" in problems[0].message
    assert avroschemas.pod_problems(normalised(manifest_body("doris-avro"))["spec"]) == []
