"""The peers harness's pure parts: data sets, connector properties, .properties text, the report table."""

from __future__ import annotations

import json

from bench.peers import cases
from bench.peers.connect import render_properties
from bench.peers.report import render_markdown
from bench.peers.systems import Target, doris_connector, olapsink_manifest, starrocks_connector

TARGET = Target(
    fe_url="http://127.0.0.1:8030",
    user="u",
    password="p",
    database="db",
    table="events",
    topic="t",
    query_port=3306,
)


def test_every_case_carries_the_same_row() -> None:
    plain = json.loads(cases.value("json", 42))
    assert json.loads(cases.value("json_schema", 42))["payload"] == plain
    event = json.loads(cases.value("debezium", 42))["payload"]
    assert (event["op"], event["before"], event["after"]) == ("c", None, plain)
    assert 150 <= len(cases.value("json", 999_999)) <= 260  # the ~200-byte case


def test_schema_cases_turn_on_the_json_converter_schemas() -> None:
    assert doris_connector(TARGET, "json")["value.converter.schemas.enable"] is False
    assert starrocks_connector(TARGET, "json_schema")["value.converter.schemas.enable"] is True


def test_doris_debezium_case_uses_the_connector_debezium_mode_with_deletes() -> None:
    props = doris_connector(TARGET, "debezium")
    assert props["converter.mode"] == "debezium_ingestion"
    assert props["enable.delete"] is True
    where = (props["doris.urls"], props["doris.http.port"], props["doris.query.port"])
    assert where == ("127.0.0.1", 8030, 3306)


def test_starrocks_debezium_case_unwraps_with_extract_new_record_state() -> None:
    props = starrocks_connector(TARGET, "debezium")
    assert props["transforms.unwrap.type"] == "io.debezium.transforms.ExtractNewRecordState"
    assert str(props["transforms"]).split(",") == ["addfield", "unwrap"]


def test_olapsink_manifest_loads_the_same_topic_and_table() -> None:
    doc = olapsink_manifest("starrocks", TARGET, "k:9092", "debezium", "g")
    assert doc["kind"] == "StarRocksSink"
    assert doc["spec"]["tables"] == [{"topic": "t", "table": "events"}]
    assert doc["spec"]["converter"] == {"valueFormat": "json_with_schema", "mode": "debezium_ingestion"}


def test_properties_text_escapes_backslashes_and_lowercases_booleans() -> None:
    text = render_properties({"a": True, "b": "C:\\x", "c": 5})
    assert text == "a=true\nb=C:\\\\x\nc=5\n"


def test_report_gives_olapsink_ratio_to_the_peer_of_its_dialect() -> None:
    def result(system: str, rate: float, cpu: float) -> dict[str, object]:
        return {
            "system": system,
            "case": "json",
            "parallel": 1,
            "records_per_s": rate,
            "mb_per_s": 1.0,
            "cpu_s_per_million": cpu,
            "peak_rss_mb": 100.0,
            "visible_latency_s": 1.0,
        }

    doc = {"results": [result("doris", 1000.0, 100.0), result("olapsink-doris", 5000.0, 20.0)]}
    table = render_markdown(doc)
    assert "| json | olapsink-doris | 1 | 5,000 |" in table
    assert "5.0x rec/s, 5.0x less CPU" in table
