"""spec.connectorConfig: connector properties become typed fields; bad keys are errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import parse_manifest
from olapsink_worker.spec.compat import translate

DORIS_CLASS = "org.apache.doris.kafka.connector.DorisSinkConnector"


def with_config(doc: dict[str, Any], config: dict[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    for section in drop:
        doc["spec"].pop(section, None)
    doc["spec"]["connectorConfig"] = config
    return doc


def problems_of(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_manifest(doc)
    return {p.path: p.message for p in caught.value.problems}


def key(name: str) -> str:
    return f'spec.connectorConfig["{name}"]'


def test_connector_config_alone_fills_the_spec(doris_doc: dict[str, Any]) -> None:
    config = {
        "connector.class": DORIS_CLASS,
        "bootstrap.servers": "k1:9092,k2:9092",
        "topics": "orders, users",
        "doris.urls": "fe1,fe2",
        "doris.http.port": 8031,  # YAML numbers are accepted like strings
        "doris.database": "shop_db",
        "doris.topic2table.map": "orders:orders_tbl,users:crm.users",
        "buffer.count.records": "0",
        "buffer.flush.time": "30",
        "sink.properties.Strict_Mode": "true",
        "sink.properties.compress_type": "",
        "sink.properties.group_commit": "ASYNC_MODE",
        "enable.delete": "true",
        "converter.mode": "DEBEZIUM_INGESTION",
        "database.time_zone": "Asia/Shanghai",
        "delivery.guarantee": "AT_LEAST_ONCE",
        "label.prefix": "shop:orders",
        "consumer.override.fetch.max.wait.ms": "200",
    }
    sink = parse_manifest(with_config(doris_doc, config, drop=("kafka", "doris", "tables")))
    spec = sink.spec
    assert spec.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert spec.kafka.topics == ["orders", "users"]
    assert spec.doris.fe_hosts == ["fe1", "fe2"] and spec.doris.http_port == 8031
    assert str(spec.target_for_topic("users")) == "crm.users"
    assert spec.buffer.records is None  # Doris: 0 turns the count trigger off
    assert spec.buffer.flush_interval_ms == 30_000  # seconds → ms
    assert spec.load.properties == {"strict_mode": "true"}  # header keys lowercased
    assert spec.load.compression == "none" and spec.load.group_commit == "async"
    assert spec.deletes.enabled and spec.converter.mode == "debezium_ingestion"
    assert spec.time_zone == "Asia/Shanghai" and spec.delivery_guarantee == "at_least_once"
    assert spec.load.label_prefix == "shop:orders"
    assert spec.kafka.properties == {"fetch.wait.max.ms": "200"}  # Java name → librdkafka name


def test_doris_keys_are_case_insensitive(doris_doc: dict[str, Any]) -> None:
    sink = parse_manifest(with_config(doris_doc, {"Enable.2PC": "False", "AUTO.REDIRECT": "FALSE"}))
    assert sink.spec.load.two_phase_commit == "disabled"
    assert sink.spec.doris.auto_redirect is False


def test_enable_2pc_absent_means_auto(doris_doc: dict[str, Any]) -> None:
    assert parse_manifest(doris_doc).spec.load.two_phase_commit == "auto"
    assert (
        parse_manifest(with_config(doris_doc, {"enable.2pc": "true"})).spec.load.two_phase_commit == "enabled"
    )


def test_unknown_key_is_named_with_a_suggestion(doris_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(doris_doc, {"buffer.count.record": "10"}))
    assert "did you mean 'buffer.count.records'" in problems[key("buffer.count.record")]


def test_key_of_the_other_connector_is_named(starrocks_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(starrocks_doc, {"doris.urls": "fe1"}))
    assert "doris connector" in problems[key("doris.urls")]


def test_value_contradicting_a_typed_field_is_an_error(doris_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(doris_doc, {"topics": "other", "doris.database": "shop_db"}))
    assert set(problems) == {key("topics")}  # the equal database is fine
    assert "contradicts spec.kafka.topics" in problems[key("topics")]


def test_two_keys_setting_one_field_differently_is_an_error(starrocks_doc: dict[str, Any]) -> None:
    config = {"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
    doc = with_config(starrocks_doc, config)
    doc["spec"]["converter"] = {"valueFormat": "json"}
    assert "contradicts" in problems_of(doc)[key("value.converter")]


def test_bad_values_are_reported_at_their_key(doris_doc: dict[str, Any]) -> None:
    config = {
        "buffer.size.bytes": "-1",
        "buffer.flush.time": "soon",
        "behavior.on.null.values": "explode",
        "auto.redirect": "yes",
    }
    problems = problems_of(with_config(doris_doc, config))
    assert "greater than 0" in problems[key("buffer.size.bytes")]
    assert "whole number" in problems[key("buffer.flush.time")]
    assert "'ignore' or 'fail'" in problems[key("behavior.on.null.values")]
    assert "true or false" in problems[key("auto.redirect")]


def test_malformed_topic2table_entry_is_an_error_not_ignored(doris_doc: dict[str, Any]) -> None:
    doc = with_config(doris_doc, {"doris.topic2table.map": "orders:orders_tbl,users"}, drop=("tables",))
    assert "'users' is not topic:table" in problems_of(doc)[key("doris.topic2table.map")]


def test_literal_password_is_refused_in_a_sink_object(doris_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(doris_doc, {"doris.password": "s3cret"}))
    message = problems[key("doris.password")]
    assert "passwordSecretRef" in message and "s3cret" not in message
    assert (
        parse_manifest(with_config(doris_doc, {"doris.password": ""})).spec.doris.password_secret_ref is None
    )


def test_java_only_features_say_what_to_use_instead(doris_doc: dict[str, Any]) -> None:
    config = {
        "load.model": "copy_into",
        "consumer.ssl.keystore.location": "/x.jks",
        "doris.tls.ca-certificate-path": "/ca.pem",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "value.converter": "com.example.MyConverter",
    }
    problems = problems_of(with_config(doris_doc, config))
    assert "Stream Load" in problems[key("load.model")]
    assert "certSecretRef" in problems[key("consumer.ssl.keystore.location")]
    assert "spec.doris.tls.caSecretRef" in problems[key("doris.tls.ca-certificate-path")]
    assert "ExtractNewRecordState" in problems[key("transforms.route.type")]
    assert "cannot run the Java converter" in problems[key("value.converter")]


def test_debezium_transforms_in_the_wrong_order_are_an_error(starrocks_doc: dict[str, Any]) -> None:
    config = {
        "transforms": "unwrap,addfield",
        "transforms.addfield.type": "com.starrocks.connector.kafka.transforms.AddOpFieldForDebeziumRecord",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.handling.mode": "rewrite",
    }
    assert "must come before" in problems_of(with_config(starrocks_doc, config))[key("transforms")]


def test_unwrap_dropping_deletes_keeps_deletes_off(starrocks_doc: dict[str, Any]) -> None:
    config = {
        "transforms": "addfield,unwrap",
        "transforms.addfield.type": "com.starrocks.connector.kafka.transforms.AddOpFieldForDebeziumRecord",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    }
    sink = parse_manifest(with_config(starrocks_doc, config))
    assert sink.spec.converter.mode == "debezium_ingestion" and sink.spec.deletes.enabled is False


def test_time_millis_transform_becomes_typed(starrocks_doc: dict[str, Any]) -> None:
    config = {
        "transforms": "t",
        "transforms.t.type": "com.starrocks.connector.kafka.transforms.TimeMillisToStringTransform",
        "transforms.t.fields": "opened, closed",
        "transforms.t.format": "HH:mm:ss.SSS",
    }
    spec = parse_manifest(with_config(starrocks_doc, config)).spec
    assert spec.converter.time_millis_to_string is not None
    assert spec.converter.time_millis_to_string.fields == ["opened", "closed"]
    assert spec.converter.time_millis_to_string.format == "HH:mm:ss.SSS"


def test_starrocks_keys_map_to_their_fields(starrocks_doc: dict[str, Any]) -> None:
    config = {
        "bufferflush.maxbytes": "134217728",
        "bufferflush.intervalms": "5000",
        "sink.maxretries": "-1",
        "sink.properties.compression": "LZ4_FRAME",
        "sink.properties.format": "CSV",
        "sink.properties.row_delimiter": "\\x02",
    }
    spec = parse_manifest(with_config(starrocks_doc, config)).spec
    assert (spec.buffer.bytes, spec.buffer.flush_interval_ms, spec.buffer.records) == (134217728, 5000, None)
    assert spec.errors.max_retries == -1
    assert spec.load.compression == "lz4" and spec.load.format == "csv"
    assert spec.load.properties == {"row_delimiter": "\\x02"}


def test_connect_timeout_range_is_enforced_at_the_key(starrocks_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(starrocks_doc, {"connect.timeoutms": "50"}))
    assert "greater than or equal to 100" in problems[key("connect.timeoutms")]


def test_wrong_connector_class_for_the_kind(starrocks_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(starrocks_doc, {"connector.class": DORIS_CLASS}))
    assert "DorisSink" in problems[key("connector.class")]


def test_no_effect_keys_are_accepted_with_a_note() -> None:
    translation = translate("doris", {"jmx": "false", "enable.combine.flush": "true", "name": "x"})
    assert not translation.problems and not translation.spec
    assert any(note.startswith("jmx:") for note in translation.notes)


def test_extract_mode_turns_jaas_credentials_into_secret_refs() -> None:
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";'
    translation = translate(
        "doris",
        {"consumer.sasl.jaas.config": jaas, "consumer.sasl.mechanism": "PLAIN"},
        secret_mode="extract",
        secret_prefix="s",
    )
    sasl = translation.spec["kafka"]["security"]["sasl"]
    assert sasl["usernameSecretRef"] == {"name": "s-kafka", "key": "username"}
    assert sasl["passwordSecretRef"] == {"name": "s-kafka", "key": "password"}
    assert {(s.secret_key, s.value) for s in translation.secrets} == {("username", "u"), ("password", "p")}


def test_tasks_max_gives_way_to_a_scaled_replica_count(doris_doc: dict[str, Any]) -> None:
    assert parse_manifest(with_config(doris_doc, {"tasks.max": "4"})).spec.replicas == 4
    doris_doc["spec"]["replicas"] = 2  # e.g. written by kubectl scale
    assert parse_manifest(doris_doc).spec.replicas == 2


def test_schemas_enable_alone_means_the_worker_json_converter(starrocks_doc: dict[str, Any]) -> None:
    config = {"value.converter.schemas.enable": "true"}
    assert (
        parse_manifest(with_config(starrocks_doc, config)).spec.converter.value_format == "json_with_schema"
    )
    translation = translate("starrocks", config)
    assert any("worker's JsonConverter" in note for note in translation.notes)


def test_boolean_values_must_be_quoted_like_the_crd_demands(doris_doc: dict[str, Any]) -> None:
    problems = problems_of(with_config(doris_doc, {"enable.delete": True, "buffer.flush.time": 30}))
    assert 'enable.delete as a quoted string ("true"/"false")' in problems["spec.connectorConfig"]


def test_doris_transform_aliases_keep_their_case() -> None:
    # Kafka Connect reads transforms.<Alias>.* itself; only the Doris connector's own keys are lowercased.
    translation = translate(
        "doris",
        {
            "transforms": "Unwrap",
            "transforms.Unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.Unwrap.delete.handling.mode": "rewrite",
        },
    )
    assert translation.problems == []
    assert translation.spec["converter"]["mode"] == "debezium_ingestion"


@pytest.mark.parametrize(
    ("java_zone", "iana"),
    [
        ("Asia/Shanghai", "Asia/Shanghai"),
        ("+08:00", "Etc/GMT-8"),
        ("GMT+8", "Etc/GMT-8"),
        ("UTC-05", "Etc/GMT+5"),
        ("Z", "UTC"),
    ],
)
def test_java_zone_ids_become_iana_names(java_zone: str, iana: str) -> None:
    assert translate("doris", {"database.time_zone": java_zone}).spec["timeZone"] == iana


def test_a_half_hour_offset_asks_for_a_region_name() -> None:
    problems = translate("doris", {"database.time_zone": "+05:30"}).problems
    assert [p.path for p in problems] == [key("database.time_zone")]
    assert "Asia/Kolkata" in problems[0].message
