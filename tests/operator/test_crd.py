"""The generated CRDs: fresh, valid apiextensions/v1, structural, and agreeing with the models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from olapsink_operator import crd
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import parse_manifest

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
KINDS = ("DorisSink", "StarRocksSink")

FULL_DORIS: dict[str, Any] = {
    "apiVersion": "olapsink.io/v1alpha1",
    "kind": "DorisSink",
    "metadata": {"name": "orders", "namespace": "shop"},
    "spec": {
        "state": "Running",
        "replicas": 2,
        "kafka": {
            "bootstrapServers": "kafka:9093",
            "topics": ["orders", "users"],
            "groupId": "orders-sink",
            "properties": {"fetch.max.bytes": "52428800"},
            "security": {
                "protocol": "SASL_SSL",
                "sasl": {
                    "mechanism": "SCRAM-SHA-512",
                    "usernameSecretRef": {"name": "kafka-user", "key": "username"},
                    "passwordSecretRef": {"name": "kafka-user", "key": "password"},
                },
                "tls": {"caSecretRef": {"name": "kafka-ca", "key": "ca.crt"}},
            },
        },
        "doris": {
            "feHosts": ["fe1", "fe2"],
            "httpPort": 8030,
            "queryPort": 9030,
            "user": "loader",
            "passwordSecretRef": {"name": "doris", "key": "password"},
            "database": "shop",
            "autoRedirect": False,
            "tls": {"enabled": True, "excludedProtocols": ["mysql"]},
        },
        "tables": [{"topic": "orders", "table": "orders_tbl"}, {"topic": "users", "table": "crm.users"}],
        "buffer": {
            "records": 100000,
            "bytes": 33554432,
            "flushIntervalMs": 10000,
            "memoryBudgetBytes": 536870912,
        },
        "load": {
            "format": "json",
            "compression": "none",
            "properties": {"strict_mode": "true"},
            "labelPrefix": "shop:orders",
            "twoPhaseCommit": "enabled",
            "groupCommit": "off",
            "maxFilterRatio": 0.1,
        },
        "deliveryGuarantee": "exactly_once",
        "deletes": {"enabled": True},
        "converter": {"mode": "debezium_ingestion", "keyFormat": "none", "valueFormat": "json_with_schema"},
        "schemaEvolution": "basic",
        "timeZone": "Asia/Shanghai",
        "nullValues": "fail",
        "errors": {
            "tolerance": "all",
            "maxRetries": 3,
            "retryIntervalMs": 1000,
            "deadLetterQueue": {"topic": "orders-dlq", "replicationFactor": 3},
        },
        "worker": {
            "image": "olapsink:dev",
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 2}},
            "env": [{"name": "LOG_LEVEL", "value": "debug"}],
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "nodeSelector": {"pool": "etl"},
        },
        "autoscaling": {"minReplicas": 1, "maxReplicas": 6, "lagPerReplica": 50000},
    },
}

FULL_STARROCKS: dict[str, Any] = {
    "apiVersion": "olapsink.io/v1alpha1",
    "kind": "StarRocksSink",
    "metadata": {"name": "cdc"},
    "spec": {
        "state": "Paused",
        "kafka": {"bootstrapServers": "kafka:9092", "topicsRegex": "^cdc\\..*"},
        "starrocks": {
            "httpUrls": ["fe1:8030"],
            "queryPort": 9030,
            "database": "cdc",
            "connectTimeoutMs": 3000,
        },
        "buffer": {"bytes": 67108864, "flushIntervalMs": 5000},
        "load": {"compression": "lz4", "properties": {"strip_outer_array": "true"}},
        "converter": {
            "mode": "debezium_ingestion",
            "timeMillisToString": {"fields": ["t"], "format": "HH:mm:ss"},
        },
        "connectorConfig": {"sink.properties.partial_update": "true", "sink.maxretries": 5},
    },
}


def open_api(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = crd.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(open_api(doc["kind"]))
    return [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def cel_rules(kind: str) -> list[tuple[list[str], dict[str, str]]]:
    """(path from spec, rule) for every x-kubernetes-validations rule in the spec schema."""
    found: list[tuple[list[str], dict[str, str]]] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        found.extend((path, rule) for rule in node.get("x-kubernetes-validations", []))
        for name, child in node.get("properties", {}).items():
            walk(child, [*path, name])

    walk(open_api(kind)["properties"]["spec"], [])
    return found


def failing_rules(doc: dict[str, Any]) -> list[str]:
    """Messages of the CEL rules that reject ``doc``, evaluated like the API server would."""
    env = celpy.Environment()
    failed = []
    for path, rule in cel_rules(doc["kind"]):
        node: Any = doc["spec"]
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue  # rules on absent objects do not run
        program = env.program(env.compile(rule["rule"]))
        if not program.evaluate({"self": celpy.json_to_cel(node)}):
            failed.append(rule["message"])
    return failed


def converted_seeds() -> list[dict[str, Any]]:
    from olapsink_worker.spec.connect_files import parse_properties, read_connector_config
    from olapsink_worker.spec.convert import convert_connector_config

    docs = []
    for seed in (
        "doris_distributed_add-connector.sh",
        "doris_best-practice_avro.sh",
        "starrocks_debezium_sr-sink.json",
    ):
        name, config = read_connector_config((SEEDS / seed).read_text())
        docs.append(convert_connector_config(config, name=name, bootstrap_servers="kafka:9092").manifest)
    worker = parse_properties((SEEDS / "starrocks_standalone_connect-standalone.properties").read_text())
    name, config = read_connector_config(
        (SEEDS / "starrocks_standalone_connect-starrocks-sink.properties").read_text()
    )
    docs.append(convert_connector_config(config, name=name, worker_config=worker).manifest)
    return docs


def test_crd_files_are_up_to_date() -> None:
    assert crd.stale_files() == [], "crds/ is stale: run python -m olapsink_operator.crd"


def test_check_mode_reports_a_stale_directory(tmp_path: Path) -> None:
    assert crd.main(["--dir", str(tmp_path)]) == 0
    assert crd.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "dorissinks.olapsink.io.yaml").write_text("# edited\n")
    assert crd.main(["--check", "--dir", str(tmp_path)]) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_a_valid_apiextensions_v1_object(kind: str) -> None:
    kubernetes_validate.validate(crd.crd(kind), "1.33", strict=True)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural(kind: str) -> None:
    def walk(node: dict[str, Any], path: str) -> None:
        assert not {"anyOf", "oneOf", "allOf", "$ref", "default", "title"} & set(node), path
        opaque = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        assert node.get("type") or opaque, f"{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}[*]")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    walk(open_api(kind), "")


@pytest.mark.parametrize(
    ("kind", "plural", "short"),
    [("DorisSink", "dorissinks", "dsink"), ("StarRocksSink", "starrockssinks", "srsink")],
)
def test_names_subresources_and_columns(kind: str, plural: str, short: str) -> None:
    spec = crd.crd(kind)["spec"]
    assert spec["names"]["plural"] == plural and spec["names"]["shortNames"] == [short]
    assert spec["names"]["categories"] == ["olapsinks"]
    version = spec["versions"][0]
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "State",
        "Replicas",
        "Lag",
        "Age",
    ]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    assert {"observedGeneration", "conditions", "lag", "selector", "readyReplicas"} <= set(
        status["properties"]
    )


@pytest.mark.parametrize(
    "doc", [FULL_DORIS, FULL_STARROCKS, *converted_seeds()], ids=lambda d: d["metadata"]["name"]
)
def test_valid_sinks_pass_schema_cel_and_models(doc: dict[str, Any]) -> None:
    parse_manifest(doc)
    assert schema_errors(doc) == []
    assert failing_rules(doc) == []


def broken(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of doc with the dotted path set to value (None deletes it)."""
    out = copy.deepcopy(doc)
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return out


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.state", "Stopped"),
        ("spec.replicas", -1),
        ("spec.buffer.records", 0),
        ("spec.buffer.bytes", -5),
        ("spec.load.compression", "zstd"),
        ("spec.load.labelPrefix", "shop.orders"),
        ("spec.tables", [{"topic": "orders"}]),
        ("spec.doris.httpPort", 70000),
        ("spec.kafka.topics", ["bad topic"]),
        ("spec.worker.imagePullPolicy", "Sometimes"),
    ],
)
def test_schema_and_models_reject_the_same_values(path: str, value: Any) -> None:
    doc = broken(FULL_DORIS, path, value)
    assert schema_errors(doc), f"the CRD schema accepts {path}={value!r}"
    with pytest.raises(ConfigError):
        parse_manifest(doc)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (broken(FULL_DORIS, "spec.kafka.topicsRegex", "^o"), "not both"),
        (broken(FULL_DORIS, "spec.kafka.topics", None), "spec.kafka.topics or spec.kafka.topicsRegex"),
        (broken(FULL_DORIS, "spec.doris.database", None), "spec.doris.database is required"),
        (broken(FULL_STARROCKS, "spec.connectorConfig", None), None),
        (broken(FULL_DORIS, "spec.kafka.security.sasl", None), "sasl is required"),
        (broken(FULL_DORIS, "spec.errors.tolerance", "none"), "tolerance: all"),
        (broken(FULL_DORIS, "spec.autoscaling.minReplicas", 9), "minReplicas"),
        (broken(FULL_DORIS, "spec.buffer.memoryBudgetBytes", 1024), "memoryBudgetBytes"),
        (broken(FULL_DORIS, "spec.load.groupCommit", "async"), "two-phase commit"),
        (broken(FULL_STARROCKS, "spec.load.groupCommit", "sync"), "Doris only"),
        (
            broken(FULL_DORIS, "spec.kafka.security.tls.certSecretRef", {"name": "c", "key": "k"}),
            "keySecretRef",
        ),
    ],
)
def test_cel_rules_match_the_models(doc: dict[str, Any], message: str | None) -> None:
    failed = failing_rules(doc)
    if message is None:
        assert failed == []
        parse_manifest(doc)
        return
    assert any(message in m for m in failed), failed
    with pytest.raises(ConfigError):
        parse_manifest(doc)


@pytest.mark.parametrize("kind", KINDS)
def test_every_cel_rule_compiles(kind: str) -> None:
    env = celpy.Environment()
    rules = cel_rules(kind)
    assert len(rules) >= 10
    for _, rule in rules:
        env.compile(rule["rule"])


def test_required_fields_may_come_from_connector_config() -> None:
    doc = {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": "DorisSink",
        "metadata": {"name": "from-connect"},
        "spec": {
            "connectorConfig": {
                "bootstrap.servers": "kafka:9092",
                "topics": "orders",
                "doris.urls": "fe1",
                "doris.database": "shop",
                "buffer.flush.time": 60,
                "enable.delete": "true",
            }
        },
    }
    assert schema_errors(doc) == []
    assert failing_rules(doc) == []
    sink = parse_manifest(doc)
    assert sink.spec.doris.database == "shop" and sink.spec.buffer.flush_interval_ms == 60_000


def test_generated_yaml_round_trips() -> None:
    for name, text in crd.render_crds().items():
        assert yaml.safe_load(text)["metadata"]["name"] == name.removesuffix(".yaml")
