"""The typed spec: defaults per kind, derived values, and one clear error per problem."""

from __future__ import annotations

from typing import Any

import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import (
    LABEL_PATTERNS,
    DorisSink,
    StarRocksSink,
    default_label_prefix,
    parse_manifest,
)
from olapsink_worker.tables import TableRef


def problems_of(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_manifest(doc)
    return {p.path: p.message for p in caught.value.problems}


def test_doris_defaults_are_the_connector_defaults(doris_doc: dict[str, Any]) -> None:
    sink = parse_manifest(doris_doc)
    assert isinstance(sink, DorisSink)
    assert sink.flavor == "doris"
    assert (sink.spec.buffer.records, sink.spec.buffer.bytes, sink.spec.buffer.flush_interval_ms) == (
        50000,
        100 * 1024 * 1024,
        120_000,
    )
    assert sink.spec.load.compression == "gzip"
    assert sink.spec.doris.http_port == 8030 and sink.spec.doris.query_port == 9030
    assert sink.spec.doris.auto_redirect is True
    assert sink.spec.state == "Running" and sink.spec.replicas == 1


def test_starrocks_defaults_are_the_connector_defaults(starrocks_doc: dict[str, Any]) -> None:
    sink = parse_manifest(starrocks_doc)
    assert isinstance(sink, StarRocksSink)
    assert sink.flavor == "starrocks"
    assert sink.spec.buffer.records is None
    assert sink.spec.buffer.bytes == 64 * 1024 * 1024
    assert sink.spec.buffer.flush_interval_ms == 1000
    assert sink.spec.load.compression == "none"


def test_group_id_defaults_to_namespace_and_name(doris_doc: dict[str, Any]) -> None:
    assert parse_manifest(doris_doc).effective_group_id == "olapsink-shop-orders"
    doris_doc["spec"]["kafka"]["groupId"] = "connect-test-doris-sink"
    assert parse_manifest(doris_doc).effective_group_id == "connect-test-doris-sink"


def test_namespace_defaults_to_default(doris_doc: dict[str, Any]) -> None:
    del doris_doc["metadata"]["namespace"]
    assert parse_manifest(doris_doc).effective_group_id == "olapsink-default-orders"


def test_target_for_topic_uses_map_database_and_topic_name(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["tables"].append({"topic": "users", "table": "crm.users"})
    spec = parse_manifest(doris_doc).spec
    assert spec.target_for_topic("orders") == TableRef("shop_db", "orders_tbl")
    assert spec.target_for_topic("users") == TableRef("crm", "users")
    assert spec.target_for_topic("unmapped") == TableRef("shop_db", "unmapped")


def test_label_prefix_default_is_label_safe(doris_doc: dict[str, Any]) -> None:
    doris_doc["metadata"]["name"] = "orders.v2"
    assert parse_manifest(doris_doc).effective_label_prefix == "shop_orders_v2"
    doris_doc["metadata"]["name"] = "x" * 200
    prefix = parse_manifest(doris_doc).effective_label_prefix
    assert len(prefix) == 64 and prefix.startswith("shop_xxx")
    odd = default_label_prefix("team.a", "sink.v2.x")
    assert all(LABEL_PATTERNS[flavor].match(odd) for flavor in ("doris", "starrocks"))


def test_every_problem_is_reported_with_its_path(doris_doc: dict[str, Any]) -> None:
    spec = doris_doc["spec"]
    spec["kafka"]["topicsRegex"] = "^orders.*"
    del spec["doris"]["database"]
    spec["buffer"] = {"records": 0, "bytes": -5}
    spec["load"] = {"format": "xml", "labelPrefix": "shop.orders"}
    spec["tables"] = [{"topic": "orders"}]
    spec["bogus"] = 1
    problems = problems_of(doris_doc)
    assert set(problems) == {
        "spec.kafka.topicsRegex",
        "spec.doris.database",
        "spec.buffer.records",
        "spec.buffer.bytes",
        "spec.load.format",
        "spec.load.labelPrefix",
        "spec.tables[0].table",
        "spec.bogus",
    }
    assert "not both" in problems["spec.kafka.topicsRegex"]
    assert "'json' or 'csv'" in problems["spec.load.format"]
    assert "doris rejects" in problems["spec.load.labelPrefix"]


def test_unknown_field_suggests_the_right_name(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["buffer"] = {"flushIntervalMS": 1000}
    assert "did you mean 'flushIntervalMs'" in problems_of(doris_doc)["spec.buffer.flushIntervalMS"]


def test_starrocks_label_prefix_rejects_colon(starrocks_doc: dict[str, Any]) -> None:
    starrocks_doc["spec"]["load"] = {"labelPrefix": "shop:orders"}
    assert "starrocks rejects" in problems_of(starrocks_doc)["spec.load.labelPrefix"]


def test_label_prefix_longer_than_64_is_rejected(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["load"] = {"labelPrefix": "a" * 65}
    assert "spec.load.labelPrefix" in problems_of(doris_doc)


def test_missing_topics_and_regex_is_an_error(doris_doc: dict[str, Any]) -> None:
    del doris_doc["spec"]["kafka"]["topics"]
    assert "exactly one" in problems_of(doris_doc)["spec.kafka.topics"]


def test_topic_mapped_twice_is_an_error(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["tables"].append({"topic": "orders", "table": "other"})
    assert "mapped twice" in problems_of(doris_doc)["spec.tables"]


def test_wrong_kind_is_named(doris_doc: dict[str, Any]) -> None:
    doris_doc["kind"] = "KafkaConnector"
    assert "DorisSink or StarRocksSink" in problems_of(doris_doc)["kind"]


def test_time_zone_must_be_iana(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["timeZone"] = "Mars/Olympus"
    assert "IANA" in problems_of(doris_doc)["spec.timeZone"]


def test_sasl_protocol_needs_credentials(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["kafka"]["security"] = {"protocol": "SASL_SSL"}
    assert "needs sasl" in problems_of(doris_doc)["spec.kafka.security.sasl"]


def test_fe_hosts_take_no_port(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["doris"]["feHosts"] = ["fe1:8030"]
    assert "httpPort" in problems_of(doris_doc)["spec.doris.feHosts"]


def test_yaml_off_reads_as_group_commit_off(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["load"] = {"groupCommit": False}
    assert parse_manifest(doris_doc).spec.load.group_commit == "off"


def test_group_commit_is_doris_only(starrocks_doc: dict[str, Any]) -> None:
    starrocks_doc["spec"]["load"] = {"groupCommit": "async"}
    assert "Doris only" in problems_of(starrocks_doc)["spec.load.groupCommit"]


def test_typed_headers_are_refused_in_properties(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["load"] = {"properties": {"FORMAT": "csv"}}
    assert "spec.load.format" in problems_of(doris_doc)["spec.load.properties"]


def test_dead_letter_topic_needs_tolerance_all(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["errors"] = {"deadLetterQueue": {"topic": "dlq"}}
    assert "tolerance: all" in problems_of(doris_doc)["spec.errors.deadLetterQueue.topic"]


def test_exactly_once_refuses_group_commit(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["deliveryGuarantee"] = "exactly_once"
    doris_doc["spec"]["load"] = {"groupCommit": "sync"}
    assert "spec.load.groupCommit" in problems_of(doris_doc)


@pytest.mark.parametrize(
    "spec",
    [
        None,
        "text",
        {"kafka": ["not", "a", "map"], "connectorConfig": {"topics": "a"}},
        {"tables": "orders:tbl", "connectorConfig": {"doris.topic2table.map": "a:b"}},
        {"connectorConfig": ["topics=a"]},
        {"connectorConfig": {"topics": {"nested": 1}}},
        {"buffer": 5, "connectorConfig": {"buffer.size.bytes": "5"}},
    ],
)
def test_malformed_documents_give_config_errors(doris_doc: dict[str, Any], spec: Any) -> None:
    doris_doc["spec"] = spec
    with pytest.raises(ConfigError) as caught:
        parse_manifest(doris_doc)
    assert all(p.path.startswith("spec") for p in caught.value.problems)


def test_non_mapping_manifest_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_manifest(["DorisSink"])


def test_label_prefix_with_a_trailing_newline_is_rejected(doris_doc: dict[str, Any]) -> None:
    # `$` in a regex also matches before a final newline; a prefix must match in full.
    doris_doc["spec"]["load"] = {"labelPrefix": "shop\n"}
    assert "doris rejects" in problems_of(doris_doc)["spec.load.labelPrefix"]


def test_group_commit_with_partial_columns_is_an_error(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["load"] = {"groupCommit": "async", "properties": {"partial_columns": "true"}}
    assert "partial_columns" in problems_of(doris_doc)["spec.load.groupCommit"]


def test_starrocks_accepts_gzip_bodies(starrocks_doc: dict[str, Any]) -> None:
    starrocks_doc["spec"]["load"] = {"compression": "gzip"}
    assert parse_manifest(starrocks_doc).spec.load.compression == "gzip"


def test_starrocks_exactly_once_refuses_merge_commit(starrocks_doc: dict[str, Any]) -> None:
    starrocks_doc["spec"]["deliveryGuarantee"] = "exactly_once"
    starrocks_doc["spec"]["load"] = {"properties": {"enable_merge_commit": "true"}}
    assert "exactly_once" in problems_of(starrocks_doc)["spec.load.properties"]


def test_unquoted_yaml_values_in_header_maps_say_to_quote_them(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["load"] = {"properties": {"strict_mode": True, "timeout": 600}}
    problems = problems_of(doris_doc)
    assert problems["spec.load.properties.strict_mode"] == 'must be a string: quote it in YAML ("true")'
    assert problems["spec.load.properties.timeout"] == 'must be a string: quote it in YAML ("600")'
