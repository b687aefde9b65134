"""Schema evolution against MariaDB (where the emulator keeps its tables), for both flavors.

The worker's pieces are wired by hand here: Debezium events → Decoder → SchemaEvolver.ensure (for the
fields of each new schema) → StreamLoader into the emulator → rows read back from MariaDB.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from olapsink_worker.decode import Decoder
from olapsink_worker.errors import FatalSinkError
from olapsink_worker.load import LoaderSettings, StreamLoader
from olapsink_worker.schema import SchemaEvolver, pymysql_connector, row_fields
from olapsink_worker.schema.evolver import Connect
from olapsink_worker.tables import TableRef

from tests.integration.formats_support import registry_secret
from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (fixture)
from tests.worker.formats.messages import order_types
from tests.worker.formats.producers import avro_producer, protobuf_producer
from tests.worker.harness import ThreadWorker, count, sink_doc, wait_for

pytestmark = pytest.mark.integration

BASE_FIELDS: list[dict[str, Any]] = [
    {"field": "id", "type": "int32", "optional": False},
    {"field": "name", "type": "string", "optional": True},
]
NEW_FIELDS: list[dict[str, Any]] = [
    {"field": "score", "type": "int64", "optional": True},
    {"field": "seen", "type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp"},
    {
        "field": "Note",
        "type": "string",
        "optional": True,
        "doc": "added upstream",
        "parameters": {"__debezium.source.column.length": "20"},
    },
]


def envelope(fields: list[dict[str, Any]], after: dict[str, Any], op: str = "c") -> bytes:
    row = {"type": "struct", "optional": True, "name": "srv.inv.users.Value", "fields": fields}
    schema = {
        "type": "struct",
        "name": "srv.inv.users.Envelope",
        "fields": [
            {**row, "field": "before"},
            {**row, "field": "after"},
            {"field": "op", "type": "string", "optional": False},
        ],
    }
    payload = {"before": None, "after": after, "op": op}
    return json.dumps({"schema": schema, "payload": payload}).encode()


def schema_of(value: bytes) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(value)["schema"]
    return schema


def loader_for(emulator: Any) -> StreamLoader:
    settings = LoaderSettings(
        flavor=emulator.flavor,
        endpoints=tuple(emulator.fe_urls),
        user=emulator.user,
        label_prefix="evolve",
        connect_timeout=2.0,
        read_timeout=10.0,
    )
    return StreamLoader(settings, emulator.password)


def evolver_for(emulator: Any, mode: str = "basic", connect: Connect | None = None) -> SchemaEvolver:
    mysql = emulator.mysql
    return SchemaEvolver(
        connect or pymysql_connector(mysql["user"], mysql["password"]),
        [(mysql["host"], mysql["port"])],
        mode=mode,  # type: ignore[arg-type]
        flavor=emulator.flavor,
        retry_for=10.0,
        visible_within=10.0,
    )


@pytest.fixture
def table(any_emulator: Any) -> TableRef:
    db = any_emulator.create_database("evo")
    model = "UNIQUE" if any_emulator.flavor == "doris" else "PRIMARY"
    any_emulator.create_table(db, "users", model, {"id": "INT", "name": "VARCHAR(32)"})
    return TableRef(db, "users")


def load(loader: StreamLoader, table: TableRef, rows: list[bytes], offset: int) -> None:
    label = loader.label_for(table, [("users", 0, offset, offset + len(rows) - 1)])
    loader.load(table, loader.frame(rows), label, len(rows))


def columns(emulator: Any, table: TableRef) -> dict[str, str]:
    found = emulator.query(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (table.database, table.table),
    )
    return {str(name): str(kind) for name, kind in found}


def test_a_new_field_mid_stream_adds_the_column_and_its_values_land(
    any_emulator: Any, table: TableRef
) -> None:
    decoder = Decoder(value_format="json_with_schema", mode="debezium_ingestion", flavor=any_emulator.flavor)
    old = [envelope(BASE_FIELDS, {"id": i, "name": f"n{i}"}) for i in (1, 2)]
    new = [
        envelope(
            BASE_FIELDS + NEW_FIELDS,
            {"id": 3, "name": "n3", "score": 42, "seen": 1725885296123456, "Note": "héllo ✓"},
        )
    ]
    with loader_for(any_emulator) as loader, evolver_for(any_emulator) as evolver:
        assert evolver.ensure(table, row_fields(schema_of(old[0]))) == []
        load(loader, table, [r for r in map(decoder.decode, old) if r is not None], 0)

        assert evolver.ensure(table, row_fields(schema_of(new[0]))) == ["score", "seen", "Note"]
        assert evolver.dialect == "mariadb"
        load(loader, table, [r for r in map(decoder.decode, new) if r is not None], 2)

    assert columns(any_emulator, table) == {
        "id": "int(11)",
        "name": "varchar(32)",
        "score": "bigint(20)",
        "seen": "datetime(6)",
        "Note": "varchar(20)",
    }
    got = any_emulator.query(
        f"SELECT id, name, score, CAST(seen AS CHAR), Note FROM `{table.database}`.`users` ORDER BY id"
    )
    assert got == [
        (1, "n1", None, None, None),
        (2, "n2", None, None, None),
        (3, "n3", 42, "2024-09-09 12:34:56.123456", "héllo ✓"),
    ]


def test_none_stops_before_loading_naming_the_missing_column(any_emulator: Any, table: TableRef) -> None:
    fields = BASE_FIELDS + NEW_FIELDS[:1]
    with evolver_for(any_emulator, mode="none") as evolver, pytest.raises(FatalSinkError) as info:
        evolver.ensure(table, fields)
    assert str(info.value) == (
        f"table {table} has no column for field(s) score of the records; add the column(s) "
        "(ALTER TABLE … ADD COLUMN) or set spec.schemaEvolution: basic"
    )
    assert "score" not in columns(any_emulator, table)


class _AlterBarrier:
    """Connections whose ALTER waits until every racer has reached its own ALTER: each racer has seen the
    column missing, so all but one must lose the race inside the database."""

    def __init__(self, inner: Connect, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=20)

    def __call__(self, host: str, port: int) -> Any:
        return _Gated(self.inner(host, port), self.barrier)


class _Gated:
    def __init__(self, conn: Any, barrier: threading.Barrier) -> None:
        self.conn, self.barrier = conn, barrier

    def cursor(self) -> Any:
        return _GatedCursor(self.conn.cursor(), self.barrier)

    def close(self) -> None:
        self.conn.close()


class _GatedCursor:
    def __init__(self, cur: Any, barrier: threading.Barrier) -> None:
        self.cur, self.barrier = cur, barrier

    def __enter__(self) -> _GatedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cur.close()

    def execute(self, sql: str, args: Any = None) -> Any:
        if sql.startswith("ALTER"):
            self.barrier.wait()
        return self.cur.execute(sql, args)

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> Any:
        return self.cur.fetchall()


@pytest.fixture
def racers() -> Iterator[list[SchemaEvolver]]:
    made: list[SchemaEvolver] = []
    yield made
    for evolver in made:
        evolver.close()


def test_two_workers_racing_on_the_same_column_both_succeed(
    any_emulator: Any, table: TableRef, racers: list[SchemaEvolver]
) -> None:
    mysql = any_emulator.mysql
    gate = _AlterBarrier(pymysql_connector(mysql["user"], mysql["password"]), parties=2)
    racers.extend(evolver_for(any_emulator, connect=gate) for _ in range(2))
    fields = BASE_FIELDS + NEW_FIELDS[:1]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def race(evolver: SchemaEvolver) -> None:
        try:
            results.append(evolver.ensure(table, fields))
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(e,)) for e in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == [[], ["score"]]  # one added it, the other found it added
    assert list(columns(any_emulator, table)) == ["id", "name", "score"]


# -- the whole worker: Kafka → engine (SchemaWatch) → emulator -----------------------------------------


@pytest.fixture
def sink_user(any_emulator: Any, mariadb: Any) -> Iterator[None]:
    """The sink's user on MariaDB too: the query port of the emulated FE is MariaDB itself."""
    user, password = any_emulator.user, any_emulator.password
    with mariadb.connect() as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password))
            cur.execute("GRANT SELECT, ALTER ON *.* TO %s@%s", (user, host))
    yield


def worker_doc(
    emulator: Any, broker: Any, mariadb: Any, table: TableRef, topic: str, mode: str
) -> dict[str, Any]:
    section = "doris" if emulator.flavor == "doris" else "starrocks"
    query_port: dict[str, Any] = {section: {"queryPort": mariadb.port}}
    return sink_doc(
        emulator,
        broker,
        table.database,
        [topic],
        {topic: table.table},
        converter={"mode": "debezium_ingestion", "valueFormat": "json_with_schema"},
        schemaEvolution=mode,
        buffer={"records": 100, "flushIntervalMs": 200},
        **query_port,
    )


def test_worker_adds_the_column_mid_stream_and_loads_its_values(
    any_emulator: Any, table: TableRef, kafka_broker: Any, mariadb: Any, sink_user: None
) -> None:
    topic = f"evo{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, 1)
    kafka_broker.produce(topic, [envelope(BASE_FIELDS, {"id": i, "name": f"n{i}"}) for i in (1, 2)])
    doc = worker_doc(any_emulator, kafka_broker, mariadb, table, topic, "basic")
    with ThreadWorker(doc, any_emulator.password) as w:
        wait_for(lambda: count(any_emulator, table.database, table.table) == 2, 60, what="old-schema rows")
        kafka_broker.produce(
            topic,
            [envelope(BASE_FIELDS + NEW_FIELDS, {"id": 3, "name": "n3", "score": 7, "seen": 0, "Note": "x"})],
        )
        wait_for(lambda: count(any_emulator, table.database, table.table) == 3, 60, what="new-schema row")
        assert w.engine.fatal is None
    got = any_emulator.query(
        f"SELECT id, score, CAST(seen AS CHAR), Note FROM `{table.database}`.`users` ORDER BY id"
    )
    assert got == [(1, None, None, None), (2, None, None, None), (3, 7, "1970-01-01 00:00:00.000000", "x")]


def test_worker_with_evolution_none_stops_naming_the_column(
    any_emulator: Any, table: TableRef, kafka_broker: Any, mariadb: Any, sink_user: None
) -> None:
    topic = f"evo{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, 1)
    kafka_broker.produce(topic, [envelope(BASE_FIELDS + NEW_FIELDS[:1], {"id": 1, "name": "a", "score": 1})])
    doc = worker_doc(any_emulator, kafka_broker, mariadb, table, topic, "none")
    with ThreadWorker(doc, any_emulator.password) as w:
        wait_for(lambda: w.engine.fatal is not None, 60, what="the sink to stop")
        assert "no column for field(s) score" in str(w.engine.fatal)
    assert count(any_emulator, table.database, table.table) == 0
    assert "score" not in columns(any_emulator, table)


AVRO_V1: dict[str, Any] = {
    "type": "record",
    "name": "User",
    "namespace": "evo",
    "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}],
}
AVRO_V2: dict[str, Any] = {
    **AVRO_V1,
    "fields": [
        *AVRO_V1["fields"],
        {"name": "score", "type": ["null", "long"], "default": None},
        {
            "name": "seen",
            "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}],
            "default": None,
        },
    ],
}


def test_worker_adds_columns_of_a_new_avro_schema_version(
    any_emulator: Any,
    table: TableRef,
    kafka_broker: Any,
    mariadb: Any,
    sink_user: None,
    schema_registry: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    topic = f"evo{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, 1)
    v1 = avro_producer(schema_registry, AVRO_V1, topic)
    v2 = avro_producer(schema_registry, AVRO_V2, topic)
    seen = dt.datetime(2024, 9, 9, 12, 34, 56, 123456, tzinfo=dt.UTC)
    kafka_broker.produce(
        topic, [v1({"id": 1, "name": "a"}), v2({"id": 2, "name": "b", "score": 5, "seen": seen})]
    )
    doc = worker_doc(any_emulator, kafka_broker, mariadb, table, topic, "basic")
    doc["spec"]["converter"] = {
        "valueFormat": "avro",
        "schemaRegistry": {"url": schema_registry.url, **registry_secret(tmp_path, monkeypatch)},
    }
    with ThreadWorker(doc, any_emulator.password) as w:
        wait_for(lambda: count(any_emulator, table.database, table.table) == 2, 60, what="2 rows")
        assert w.engine.fatal is None
    assert columns(any_emulator, table) == {
        "id": "int(11)",
        "name": "varchar(32)",
        "score": "bigint(20)",
        "seen": "datetime(6)",
    }
    got = any_emulator.query(
        f"SELECT id, score, CAST(seen AS CHAR) FROM `{table.database}`.`users` ORDER BY id"
    )
    assert got == [(1, None, None), (2, 5, "2024-09-09 12:34:56.123456")]


PROTO_V1_COLUMNS = {
    "id": "BIGINT",
    "city": "VARCHAR(32)",
    "created": "DATETIME(6)",
    "day": "DATE",
    "at": "VARCHAR(20)",
    "amount": "DECIMAL(12,2)",
    "status": "VARCHAR(8)",
    "raw": "VARCHAR(16)",
    "discount": "DOUBLE",
    "coupon": "VARCHAR(16)",
    "tags": "JSON",
    "lines": "JSON",
    "attrs": "JSON",
    "extra": "JSON",
}


def test_worker_adds_the_column_of_a_new_protobuf_message_version(
    any_emulator: Any,
    kafka_broker: Any,
    mariadb: Any,
    sink_user: None,
    schema_registry: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    db = any_emulator.create_database("evo")
    any_emulator.create_table(db, "orders", "DUPLICATE", PROTO_V1_COLUMNS, key=["id"])
    table = TableRef(db, "orders")
    topic = f"evo{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, 1)
    v1 = protobuf_producer(schema_registry, order_types(1)[0], topic)
    v2 = protobuf_producer(schema_registry, order_types(2)[0], topic)
    kafka_broker.produce(
        topic, [v1(order_types(1)[0](id=1, city="a")), v2(order_types(2)[0](id=2, note="gift"))]
    )
    doc = worker_doc(any_emulator, kafka_broker, mariadb, table, topic, "basic")
    doc["spec"]["converter"] = {
        "valueFormat": "protobuf",
        "schemaRegistry": {"url": schema_registry.url, **registry_secret(tmp_path, monkeypatch)},
    }
    with ThreadWorker(doc, any_emulator.password) as w:
        wait_for(lambda: count(any_emulator, db, "orders") == 2, 60, what="2 rows")
        assert w.engine.fatal is None
    assert columns(any_emulator, table)["note"] == "longtext"
    assert any_emulator.query(f"SELECT id, note FROM `{db}`.`orders` ORDER BY id") == [(1, None), (2, "gift")]
