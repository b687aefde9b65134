"""Raw Avro values read with a local schema file per topic (Doris's DorisAvroConverter), through real Kafka
and the worker into the Stream Load emulator. Raw Avro has no schema id, so a schema change is a new file: the
producer and the sink's file move to the new version together, here with a worker restart in between."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.integration.formats_support import fresh_topic, orders_database, table_rows
from tests.worker.formats.avro_schemas import ORDER_V1, ORDER_V2, order
from tests.worker.formats.producers import raw_avro
from tests.worker.harness import ThreadWorker, committed, count, sink_doc, wait_for

pytestmark = pytest.mark.integration


CITY = {
    "type": "record",
    "name": "City",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "city", "type": "string"},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    ],
}


def test_raw_avro_from_a_local_schema_file_then_a_new_optional_field(
    starrocks_emulator, kafka_broker, tmp_path
):
    emu = starrocks_emulator
    db = orders_database(emu)
    emu.create_table(
        db, "cities", "DUPLICATE", {"id": "BIGINT", "city": "VARCHAR(8)", "day": "DATE"}, key=["id"]
    )
    topic, cities = fresh_topic(kafka_broker), fresh_topic(kafka_broker)
    schema_file, city_file = tmp_path / "orders.avsc", tmp_path / "city.avsc"
    schema_file.write_text(json.dumps(ORDER_V1))
    city_file.write_text(json.dumps(CITY))
    doc = sink_doc(
        emu,
        kafka_broker,
        db,
        [topic, cities],
        {topic: "orders", cities: "cities"},
        converter={
            "valueFormat": "avro",
            "avroSchemaFiles": {topic: f"file://{schema_file}", cities: str(city_file)},
        },
    )
    group = doc["spec"]["kafka"]["groupId"]
    kafka_broker.produce(topic, [raw_avro(ORDER_V1, order(i)) for i in (0, 1)])
    kafka_broker.produce(cities, [raw_avro(CITY, {"id": 7, "city": "Lyon", "day": dt.date(2020, 2, 29)})])
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "orders") == 2, 60, what="2 rows")
        wait_for(lambda: count(emu, db, "cities") == 1, 30, what="the city row")
        wait_for(lambda: committed(kafka_broker, group, topic, 1) == [2], 30)

    schema_file.write_text(json.dumps(ORDER_V2))
    kafka_broker.produce(topic, [raw_avro(ORDER_V2, order(i, note=f"n{i}")) for i in (2, 10)])
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "orders") == 4, 60, what="4 rows")

    stamp = "2024-03-01 12:30:15.123456"
    assert table_rows(emu, db) == [
        (0, "c0", "2024-03-01 12:30:15.250000", None, "2024-02-29", "08:05:09.5", "1000.00", 1, None, None),
        (1, "c1", "2024-03-01 12:30:16.250000", stamp, "2024-02-29", "08:05:09.5", "1000.01", 0, 0.25, None),
        (2, "c2", "2024-03-01 12:30:17.250000", stamp, "2024-02-29", "08:05:09.5", "1000.02", 1, 0.5, "n2"),
        (
            10,
            "c10",
            "2024-03-01 12:30:25.250000",
            None,
            "2024-02-29",
            "08:05:09.5",
            "1000.10",
            1,
            None,
            "n10",
        ),
    ]
    assert emu.query(f"SELECT id, city, CAST(day AS CHAR) FROM `{db}`.`cities`") == [
        (7, "Lyon", "2020-02-29")
    ]
