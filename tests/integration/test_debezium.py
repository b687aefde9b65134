"""Debezium change streams end to end: real Kafka, the worker, the emulator's UNIQUE / PRIMARY KEY tables.

Each test starts from a seed's connector config (converted as ``olapsink convert`` does), models the
source table as a dict of rows, applies snapshot reads, inserts, updates and deletes to it while producing
the change events Debezium 2.x would write (tests/fixtures/debezium), and compares the target table with
the model. Doris: the seed's JSON best practice turned to ``converter.mode=debezium_ingestion`` for a
MySQL source. StarRocks: the seed's Debezium/PostgreSQL walk-through (``AddOpFieldForDebeziumRecord`` +
``ExtractNewRecordState``), whose translation the worker must honour without running those transforms.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from olapsink_worker.spec.convert import convert_connector_config

from tests.fixtures import debezium as dbz
from tests.worker.harness import ThreadWorker, wait_for

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
ZONE = "Asia/Shanghai"
SHANGHAI = ZoneInfo(ZONE)


def _seed_config(name: str) -> dict[str, str]:
    text = (SEEDS / name).read_text()
    if name.endswith(".sh"):  # curl ... -d '{...}'
        text = re.search(r"-d '(.*)'", text, re.S).group(1)  # type: ignore[union-attr]
    return dict(json.loads(text)["config"])


def _manifest(config: dict[str, str], worker: dict[str, str], broker: Any, **spec: Any) -> dict[str, Any]:
    conversion = convert_connector_config(
        config, name=f"dbz-{uuid.uuid4().hex[:8]}", worker_config=worker, bootstrap_servers=broker.bootstrap
    )
    doc = conversion.manifest
    doc["spec"]["kafka"]["groupId"] = f"g-{doc['metadata']['name']}"
    doc["spec"]["buffer"] = {"records": 7, "flushIntervalMs": 300}  # several loads: order across batches
    doc["spec"].update(spec)
    return doc


# -- Doris: MySQL source, the JSON best practice in debezium_ingestion mode --------------------------------

MYSQL_PLAIN = [
    dbz.integer("id", optional=False),
    dbz.text("first_name", 255),
    dbz.text("email", 255),
    dbz.double("score"),
    dbz.enum("tier", "gold,silver"),
    dbz.json_text("profile"),
]
MYSQL_TYPED = [
    dbz.date("birth_date"),
    dbz.timestamp_ms("created_at"),  # DATETIME(3)
    dbz.zoned_timestamp("updated_at"),  # TIMESTAMP(6)
    dbz.connect_decimal("price", 10, 2),
    dbz.micro_time("pickup"),  # TIME
]
DORIS_COLUMNS = {
    "id": "INT",
    "first_name": "VARCHAR(255)",
    "email": "VARCHAR(255)",
    "score": "DOUBLE",
    "tier": "VARCHAR(16)",
    "profile": "STRING",
}
DORIS_TYPED_COLUMNS = {
    "birth_date": "DATE",
    "created_at": "DATETIME(3)",
    "updated_at": "DATETIME(6)",
    "price": "DECIMAL(10,2)",
    "pickup": "VARCHAR(32)",
}


def _mysql_row(i: int, typed: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": i,
        "first_name": f"name{i} ✓",
        "email": f"u{i}@example.com",
        "score": i + 0.25,
        "tier": "gold" if i % 2 else "silver",
        "profile": {"n": i, "tags": ["a", "b"]},
    }
    if typed:
        row |= {
            "birth_date": dt.date(1990, 1, 1) + dt.timedelta(days=37 * i),
            "created_at": dt.datetime(2024, 4, 12, 10, 30, 0, 123_000) + dt.timedelta(hours=i),
            "updated_at": dt.datetime(2024, 9, 9, 20, 34, 56, 500_000, tzinfo=dt.UTC)
            + dt.timedelta(minutes=i),
            "price": Decimal("123.45") * i - Decimal("100.05"),
            "pickup": dt.time(10, 30, i % 60),
        }
    return row


def _changes(source: dbz.Source, make: Any) -> None:
    """The same history for every test: snapshot, inserts, updates (also to NULL), deletes, re-insert,
    a primary-key change."""
    source.snapshot([make(i) for i in range(1, 6)])
    for i in range(6, 9):
        source.insert(make(i))
    source.update(2, email="changed@example.com", score=None)
    source.update(7, first_name="seven", profile=None)
    source.delete(3)
    source.delete(6)
    source.update(2, score=9.5)
    source.insert(make(3))  # a deleted key comes back
    source.update(3, email="back@example.com")
    source.delete(8)
    source.change_key(4, 40)


def _expected(source: dbz.Source, columns: list[str]) -> list[tuple[Any, ...]]:
    def db_value(name: str, value: Any) -> Any:
        if value is None:
            return None
        if name == "profile":
            return json.dumps(value)
        if name == "updated_at":  # ZonedTimestamp: converted to the sink's time zone, offset dropped
            return value.astimezone(SHANGHAI).replace(tzinfo=None)
        if name == "pickup":
            return value.isoformat()
        if name == "balance":
            return float(value)
        if name == "photo":
            return value.hex().upper()
        return value

    return [tuple(db_value(c, source.rows[k].get(c)) for c in columns) for k in sorted(source.rows)]


def _table(emu: Any, db: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    names = ", ".join(f"`{c}`" for c in columns)
    return [tuple(r) for r in emu.query(f"SELECT {names} FROM `{db}`.`{table}` ORDER BY id")]


@pytest.mark.parametrize("schemas", [True, False], ids=["schemas-on", "schemas-off"])
def test_doris_mysql_change_stream_ends_equal_to_the_source(doris_emulator, kafka_broker, schemas):
    emu = doris_emulator
    db = emu.create_database()
    columns = MYSQL_PLAIN + (MYSQL_TYPED if schemas else [])
    table = dbz.Table(
        "mysql", f"mysql{uuid.uuid4().hex[:6]}", "inventory", "customers", columns, schemas=schemas
    )
    kafka_broker.create_topic(table.topic, 1)
    source = dbz.Source(table)
    _changes(source, lambda i: _mysql_row(i, schemas))
    kafka_broker.produce(table.topic, source.values)

    emu.create_table(
        db, "customers", "UNIQUE", {**DORIS_COLUMNS, **(DORIS_TYPED_COLUMNS if schemas else {})}, key=["id"]
    )
    config = _seed_config("doris_best-practice_json.sh")
    host, port = emu.fe_url.split("//", 1)[1].rsplit(":", 1)
    config |= {
        "topics": table.topic,
        "doris.topic2table.map": f"{table.topic}:customers",
        "doris.urls": host,
        "doris.http.port": port,
        "doris.user": emu.user,
        "doris.database": db,
        "converter.mode": "debezium_ingestion",
        "enable.delete": "true",
        "database.time_zone": ZONE,
        "value.converter.schemas.enable": str(schemas).lower(),
    }
    doc = _manifest(config, {}, kafka_broker)
    assert doc["spec"]["converter"]["valueFormat"] == ("json_with_schema" if schemas else "json")
    names = [c.name for c in columns]
    expected = _expected(source, names)
    with ThreadWorker(doc, emu.password):
        wait_for(
            lambda: _table(emu, db, "customers", names) == expected, 60, what="table equal to the source"
        )


# -- StarRocks: PostgreSQL source, the seed's Debezium walk-through ----------------------------------------

PG_PLAIN = [
    dbz.integer("id", optional=False),
    dbz.text("first_name"),
    dbz.text("last_name"),
    dbz.text("email"),
]
PG_TYPED = [
    dbz.date("born"),
    dbz.timestamp_us("signed_up"),  # TIMESTAMP
    dbz.zoned_timestamp("updated_at"),  # TIMESTAMPTZ
    dbz.variable_decimal("balance"),  # NUMERIC
    dbz.binary("photo"),  # BYTEA
]
SR_COLUMNS = {"id": "INT", "first_name": "VARCHAR(255)", "last_name": "VARCHAR(255)", "email": "VARCHAR(255)"}
SR_TYPED_COLUMNS = {
    "born": "DATE",
    "signed_up": "DATETIME(6)",
    "updated_at": "DATETIME(6)",
    "balance": "DOUBLE",
    "photo": "STRING",
}


def _pg_row(i: int, typed: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 1000 + i,
        "first_name": f"F{i}",
        "last_name": f"L{i}",
        "email": f"c{i}@acme.org",
    }
    if typed:
        row |= {
            "born": dt.date(1969, 12, 31) + dt.timedelta(days=400 * i),  # one before the epoch
            "signed_up": dt.datetime(2024, 9, 9, 12, 34, 56, 123_456) + dt.timedelta(days=i),
            "updated_at": dt.datetime(2024, 1, 1, 23, 59, 59, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
            "balance": Decimal(f"{i}.{i:03d}5"),
            "photo": bytes([i, 0xAB, 0x00]),
        }
    return row


def _pg_changes(source: dbz.Source, typed: bool) -> None:
    source.key = "id"
    source.snapshot([_pg_row(i, typed) for i in range(1, 6)])
    for i in range(6, 9):
        source.insert(_pg_row(i, typed))
    source.update(1002, email="changed@acme.org", last_name=None)
    source.delete(1003)
    source.delete(1006)
    source.insert(_pg_row(3, typed))
    source.update(1003, first_name="again")
    source.delete(1008)
    source.change_key(1001, 1100)


@pytest.mark.parametrize("schemas", [True, False], ids=["schemas-on", "schemas-off"])
def test_starrocks_postgres_walkthrough_ends_equal_to_the_source(starrocks_emulator, kafka_broker, schemas):
    emu = starrocks_emulator
    db = emu.create_database()
    columns = PG_PLAIN + (PG_TYPED if schemas else [])
    table = dbz.Table(
        "postgresql", f"test{uuid.uuid4().hex[:6]}", "postgres", "customers", columns, schemas=schemas
    )
    kafka_broker.create_topic(table.topic, 1)
    source = dbz.Source(table)
    _pg_changes(source, schemas)
    kafka_broker.produce(table.topic, source.values)

    emu.create_table(
        db, "customers", "PRIMARY", {**SR_COLUMNS, **(SR_TYPED_COLUMNS if schemas else {})}, key=["id"]
    )
    config = _seed_config("starrocks_debezium_sr-sink.json") | {
        "topics": table.topic,
        "starrocks.topic2table.map": f"{table.topic}:customers",
        "starrocks.http.url": ",".join(u.split("//", 1)[1] for u in emu.fe_urls),
        "starrocks.database.name": db,
        "starrocks.username": emu.user,
    }
    # The walk-through's worker properties: JsonConverter, schemas.enable=false (tried both ways here).
    worker = {
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": str(schemas).lower(),
    }
    doc = _manifest(config, worker, kafka_broker, timeZone=ZONE)
    assert doc["spec"]["converter"]["mode"] == "debezium_ingestion"
    assert doc["spec"]["deletes"] == {"enabled": True}  # addfield + unwrap rewrite
    names = [c.name for c in columns]
    expected = _expected(source, names)
    with ThreadWorker(doc, emu.password):
        wait_for(
            lambda: _table(emu, db, "customers", names) == expected, 60, what="table equal to the source"
        )


def test_doris_delete_without_enable_delete_keeps_the_before_image(doris_emulator, kafka_broker):
    """The Doris connector writes the sign but Doris ignores it without hidden_columns: a `d` upserts."""
    emu = doris_emulator
    db = emu.create_database()
    table = dbz.Table("mysql", f"m{uuid.uuid4().hex[:6]}", "inventory", "customers", MYSQL_PLAIN)
    kafka_broker.create_topic(table.topic, 1)
    source = dbz.Source(table)
    source.snapshot([_mysql_row(i, False) for i in range(1, 4)])
    kept = dict(source.rows)
    source.delete(2)
    kafka_broker.produce(table.topic, source.values)
    emu.create_table(db, "customers", "UNIQUE", DORIS_COLUMNS, key=["id"])
    config = _seed_config("doris_best-practice_json.sh")
    host, port = emu.fe_url.split("//", 1)[1].rsplit(":", 1)
    config |= {
        "topics": table.topic,
        "doris.topic2table.map": f"{table.topic}:customers",
        "doris.urls": host,
        "doris.http.port": port,
        "doris.user": emu.user,
        "doris.database": db,
        "converter.mode": "debezium_ingestion",
    }
    doc = _manifest(config, {}, kafka_broker)
    names = [c.name for c in MYSQL_PLAIN]
    source.rows = kept
    expected = _expected(source, names)
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: _table(emu, db, "customers", names) == expected, 60, what="all three rows kept")


def test_tombstone_with_null_values_fail_stops_the_sink(starrocks_emulator, kafka_broker):
    emu = starrocks_emulator
    db = emu.create_database()
    table = dbz.Table("postgresql", f"t{uuid.uuid4().hex[:6]}", "postgres", "customers", PG_PLAIN)
    kafka_broker.create_topic(table.topic, 1)
    source = dbz.Source(table)
    source.snapshot([_pg_row(i, False) for i in range(1, 3)])
    source.delete(1001)  # followed by its tombstone
    kafka_broker.produce(table.topic, source.values)
    emu.create_table(db, "customers", "PRIMARY", SR_COLUMNS, key=["id"])
    config = _seed_config("starrocks_debezium_sr-sink.json") | {
        "topics": table.topic,
        "starrocks.topic2table.map": f"{table.topic}:customers",
        "starrocks.http.url": ",".join(u.split("//", 1)[1] for u in emu.fe_urls),
        "starrocks.database.name": db,
        "starrocks.username": emu.user,
    }
    doc = _manifest(config, {}, kafka_broker, nullValues="fail")
    worker = ThreadWorker(doc, emu.password).start()
    try:
        assert worker.join(60) == 2  # fatal: the tombstone is a record error under tolerance none
    finally:
        worker.stop()
