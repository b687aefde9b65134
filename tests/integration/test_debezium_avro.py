"""Debezium change events as Avro through a schema registry: the envelope unwrapped, Debezium's types
converted by ``connect.name``, and the missing columns added from the ``after`` record (schemaEvolution)."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.formats_support import fresh_topic, registry_secret
from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (fixture)
from tests.worker.formats.producers import avro_producer
from tests.worker.formats.test_avro_debezium import ENVELOPE
from tests.worker.harness import ThreadWorker, sink_doc, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def sink_user(doris_emulator: Any, mariadb: Any) -> Iterator[None]:
    """The sink's user on MariaDB too: the query port of the emulated FE is MariaDB itself."""
    user, password = doris_emulator.user, doris_emulator.password
    with mariadb.connect() as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password))
            cur.execute("GRANT SELECT, ALTER ON *.* TO %s@%s", (user, host))
    yield


def _row(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "born": 8905 + i,
        "seen": 1_725_885_296_123_456 + i * 1_000_000,
        "changed": f"2024-09-09T04:34:5{i}Z",
        "opens": "01:00:00Z",
        "balance": {"scale": 3, "value": (123456 + i).to_bytes(3, "big", signed=True)},
        "spot": {"x": 1.0, "y": float(i), "wkb": struct.pack("<BIdd", 1, 1, 1.0, float(i)), "srid": 0},
        "price": (12345 + i).to_bytes(2, "big", signed=True),
    }
    return row | changes


def _event(op: str, before: Any, after: Any) -> dict[str, Any]:
    source = {"db": "inventory", "ts_ms": 1_732_170_000_000}
    return {"before": before, "after": after, "source": source, "op": op, "ts_ms": 2, "transaction": None}


def test_avro_debezium_stream_with_evolution_ends_equal_to_the_source(
    doris_emulator,
    kafka_broker,
    mariadb,
    sink_user,
    schema_registry,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    emu = doris_emulator
    db = emu.create_database()
    emu.create_table(db, "customers", "UNIQUE", {"id": "INT", "born": "DATE"}, key=["id"])
    topic = fresh_topic(kafka_broker)
    produce = avro_producer(schema_registry, ENVELOPE, topic)
    values: list[bytes | None] = [produce(_event("r", None, _row(i))) for i in (1, 2, 3)]
    values += [
        produce(_event("u", _row(2), _row(2, price=None, opens=None))),
        produce(_event("d", _row(3), None)),
        None,  # the delete's tombstone
        produce(_event("c", None, _row(4))),
    ]
    kafka_broker.produce(topic, values)
    doc = sink_doc(
        emu,
        kafka_broker,
        db,
        [topic],
        {topic: "customers"},
        converter={
            "mode": "debezium_ingestion",
            "valueFormat": "avro",
            "schemaRegistry": {"url": schema_registry.url, **registry_secret(tmp_path, monkeypatch)},
        },
        deletes={"enabled": True},
        timeZone="Asia/Shanghai",
        schemaEvolution="basic",
        doris={"queryPort": mariadb.port},
    )
    columns = "id, born, seen, changed, opens, balance, spot, price"

    def table() -> list[tuple[Any, ...]]:
        try:
            return list(emu.query(f"SELECT {columns} FROM `{db}`.`customers` ORDER BY id"))
        except Exception:  # the columns are not there yet
            return []

    def expected(i: int, **nulls: None) -> tuple[Any, ...]:
        values = (
            i,
            dt.date(1994, 5, 20) + dt.timedelta(days=i),
            dt.datetime(2024, 9, 9, 12, 34, 56, 123456) + dt.timedelta(seconds=i),
            dt.datetime(2024, 9, 9, 12, 34, 50 + i),
            "09:00:00",
            (123456 + i) / 1000,
            f'{{"type":"Point","coordinates":[1.0,{float(i)}],"srid":0}}',
            Decimal(12345 + i) / 100,
        )
        names = [c.strip() for c in columns.split(",")]
        return tuple(None if names[k] in nulls else v for k, v in enumerate(values))

    want = [expected(1), expected(2, price=None, opens=None), expected(4)]
    with ThreadWorker(doc, emu.password) as w:
        wait_for(lambda: table() == want, 60, what="table equal to the source")
        assert w.engine.fatal is None
