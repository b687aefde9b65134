"""Schema evolution without a database: type mapping, the field/column diff, DDL text, and the evolver's
decisions against a scripted connection (MariaDB runs: tests/integration/test_schema_evolution.py)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import fastavro
import pymysql
import pytest
from olapsink_worker.errors import (
    FatalSinkError,
    RecordError,
    RegistryConfigError,
    RegistryUnavailableError,
    SchemaUnusableError,
)
from olapsink_worker.schema import (
    SchemaEvolver,
    UnmappableFieldError,
    add_columns_sql,
    column_type,
    missing_fields,
    row_fields,
)
from olapsink_worker.schema.avro_fields import avro_fields
from olapsink_worker.schema.evolver import PyMySQLConnector, classify
from olapsink_worker.schema.protobuf_fields import message_fields
from olapsink_worker.schema.watch import (
    AvroRegistrySchemas,
    ProtobufRegistrySchemas,
    SchemaWatch,
    watch_for_sink,
)
from olapsink_worker.spec import parse_manifest
from olapsink_worker.tables import TableRef

from tests.schema_registry.server import SchemaRegistryServer
from tests.worker.formats.messages import order_file, order_types

DBZ = "io.debezium.time."
CONNECT = "org.apache.kafka.connect.data."


def f(name: str, kind: str, logical: str | None = None, **params: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"field": name, "type": kind, "optional": True}
    if logical:
        field["name"] = logical
    if params:
        field["parameters"] = {k.replace("__", ".").replace("_", "."): str(v) for k, v in params.items()}
    return field


def dbz_params(**params: Any) -> dict[str, str]:
    return {f"__debezium.source.column.{k}": str(v) for k, v in params.items()}


# (field schema, Doris type, StarRocks type, MariaDB type)
TYPE_TABLE: list[tuple[dict[str, Any], str, str, str]] = [
    ({"field": "a", "type": "int8"}, "TINYINT", "TINYINT", "TINYINT"),
    ({"field": "a", "type": "int16"}, "SMALLINT", "SMALLINT", "SMALLINT"),
    ({"field": "a", "type": "int32"}, "INT", "INT", "INT"),
    ({"field": "a", "type": "int64"}, "BIGINT", "BIGINT", "BIGINT"),
    ({"field": "a", "type": "float32"}, "FLOAT", "FLOAT", "FLOAT"),
    ({"field": "a", "type": "float64"}, "DOUBLE", "DOUBLE", "DOUBLE"),
    ({"field": "a", "type": "boolean"}, "BOOLEAN", "BOOLEAN", "BOOLEAN"),
    ({"field": "a", "type": "string"}, "STRING", "VARCHAR(1048576)", "LONGTEXT"),
    (
        {"field": "a", "type": "string", "parameters": dbz_params(length=50)},
        "VARCHAR(200)",
        "VARCHAR(200)",
        "VARCHAR(50)",
    ),
    (
        {"field": "a", "type": "string", "parameters": dbz_params(length=20000)},
        "STRING",
        "VARCHAR(80000)",
        "LONGTEXT",
    ),
    (
        {"field": "a", "type": "string", "name": "io.debezium.data.Json"},
        "STRING",
        "VARCHAR(1048576)",
        "LONGTEXT",
    ),
    ({"field": "a", "type": "bytes"}, "STRING", "VARCHAR(1048576)", "LONGTEXT"),
    (
        {"field": "a", "type": "bytes", "name": "io.debezium.data.Bits"},
        "STRING",
        "VARCHAR(1048576)",
        "LONGTEXT",
    ),
    ({"field": "a", "type": "int32", "name": DBZ + "Date"}, "DATE", "DATE", "DATE"),
    ({"field": "a", "type": "int32", "name": CONNECT + "Date"}, "DATE", "DATE", "DATE"),
    ({"field": "a", "type": "int32", "name": DBZ + "Time"}, "VARCHAR(32)", "VARCHAR(32)", "VARCHAR(32)"),
    ({"field": "a", "type": "int64", "name": DBZ + "MicroTime"}, "VARCHAR(32)", "VARCHAR(32)", "VARCHAR(32)"),
    ({"field": "a", "type": "int64", "name": DBZ + "NanoTime"}, "VARCHAR(32)", "VARCHAR(32)", "VARCHAR(32)"),
    (
        {"field": "a", "type": "string", "name": DBZ + "ZonedTime"},
        "VARCHAR(32)",
        "VARCHAR(32)",
        "VARCHAR(32)",
    ),
    ({"field": "a", "type": "int32", "name": CONNECT + "Time"}, "VARCHAR(32)", "VARCHAR(32)", "VARCHAR(32)"),
    ({"field": "a", "type": "int64", "name": DBZ + "Timestamp"}, "DATETIME(3)", "DATETIME", "DATETIME(3)"),
    (
        {"field": "a", "type": "int64", "name": CONNECT + "Timestamp"},
        "DATETIME(3)",
        "DATETIME",
        "DATETIME(3)",
    ),
    (
        {"field": "a", "type": "int64", "name": DBZ + "MicroTimestamp"},
        "DATETIME(6)",
        "DATETIME",
        "DATETIME(6)",
    ),
    (
        {"field": "a", "type": "int64", "name": DBZ + "NanoTimestamp"},
        "DATETIME(6)",
        "DATETIME",
        "DATETIME(6)",
    ),
    (
        {"field": "a", "type": "string", "name": DBZ + "ZonedTimestamp"},
        "DATETIME(6)",
        "DATETIME",
        "DATETIME(6)",
    ),
    (
        {"field": "a", "type": "int64", "name": DBZ + "MicroTimestamp", "parameters": dbz_params(length=2)},
        "DATETIME(2)",
        "DATETIME",
        "DATETIME(2)",
    ),
    (
        {"field": "a", "type": "int64", "name": DBZ + "Timestamp", "parameters": dbz_params(scale=9)},
        "DATETIME(6)",
        "DATETIME",
        "DATETIME(6)",
    ),
    (
        {"field": "a", "type": "bytes", "name": CONNECT + "Decimal", "parameters": {"scale": "2"}},
        "DECIMAL(38,2)",
        "DECIMAL(38,2)",
        "DECIMAL(38,2)",
    ),
    (
        {
            "field": "a",
            "type": "bytes",
            "name": CONNECT + "Decimal",
            "parameters": {"scale": "2", "connect.decimal.precision": "10"},
        },
        "DECIMAL(10,2)",
        "DECIMAL(10,2)",
        "DECIMAL(10,2)",
    ),
    (
        {
            "field": "a",
            "type": "bytes",
            "name": CONNECT + "Decimal",
            "parameters": {"scale": "0", "connect.decimal.precision": "50"},
        },
        "STRING",
        "VARCHAR(1048576)",
        "DECIMAL(50,0)",
    ),
    (
        {"field": "a", "type": "struct", "name": "io.debezium.data.VariableScaleDecimal"},
        "DOUBLE",
        "DOUBLE",
        "DOUBLE",
    ),
    (
        {"field": "a", "type": "struct", "name": "io.debezium.data.geometry.Point"},
        "STRING",
        "VARCHAR(1048576)",
        "LONGTEXT",
    ),
    ({"field": "a", "type": "array", "items": {"type": "int32"}}, "ARRAY<INT>", "ARRAY<INT>", "LONGTEXT"),
    (
        {"field": "a", "type": "array", "items": {"type": "int32", "name": DBZ + "Date"}},
        "ARRAY<DATE>",
        "ARRAY<DATE>",
        "LONGTEXT",
    ),
    ({"field": "a", "type": "array"}, "STRING", "VARCHAR(1048576)", "LONGTEXT"),
    (
        {"field": "a", "type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}},
        "JSON",
        "JSON",
        "JSON",
    ),
    ({"field": "a", "type": "struct", "fields": [{"field": "x", "type": "int32"}]}, "JSON", "JSON", "JSON"),
]


@pytest.mark.parametrize(("field", "doris", "starrocks", "mariadb"), TYPE_TABLE)
def test_column_type_per_dialect(field: dict[str, Any], doris: str, starrocks: str, mariadb: str) -> None:
    assert (column_type(field, "doris"), column_type(field, "starrocks"), column_type(field, "mariadb")) == (
        doris,
        starrocks,
        mariadb,
    )


def test_unknown_type_names_the_field() -> None:
    with pytest.raises(UnmappableFieldError, match=r"field 'weird' has Connect type 'int128'.*by hand"):
        column_type({"field": "weird", "type": "int128"}, "doris")


def test_row_fields_of_an_envelope_are_the_after_fields() -> None:
    after = {"type": "struct", "field": "after", "fields": [{"field": "id", "type": "int32"}]}
    envelope = {
        "type": "struct",
        "name": "srv.db.t.Envelope",
        "fields": [{**after, "field": "before"}, after, {"field": "op", "type": "string"}],
    }
    assert [x["field"] for x in row_fields(envelope)] == ["id"]


def test_row_fields_of_a_flat_struct_are_its_fields() -> None:
    flat = {
        "type": "struct",
        "fields": [{"field": "id", "type": "int32"}, {"field": "after_x", "type": "string"}],
    }
    assert [x["field"] for x in row_fields(flat)] == ["id", "after_x"]


def test_missing_fields_ignores_case_markers_and_case_duplicates() -> None:
    fields = [
        {"field": "ID", "type": "int32"},
        {"field": "Score", "type": "int64"},
        {"field": "score", "type": "int64"},
        {"field": "__op", "type": "int32"},
        {"field": "__DORIS_DELETE_SIGN__", "type": "int32"},
        {"field": "__deleted", "type": "string"},  # ExtractNewRecordState rewrite
        {"field": "note", "type": "string"},
    ]
    assert [x["field"] for x in missing_fields(fields, ["id", "name"])] == ["Score", "note"]


def test_nothing_missing_when_every_field_has_a_column() -> None:
    assert missing_fields([{"field": "Name", "type": "string"}], ["NAME", "id"]) == []


def test_ddl_for_one_column_quotes_names_and_is_nullable() -> None:
    sql = add_columns_sql(TableRef("my db", "t`x"), [{"field": "new col", "type": "int64"}], "doris")
    assert sql == "ALTER TABLE `my db`.`t``x` ADD COLUMN `new col` BIGINT NULL"


def test_ddl_for_several_columns_is_one_statement_with_comments() -> None:
    fields = [
        {"field": "a", "type": "int32", "doc": "it's a \\ test"},
        {"field": "b", "type": "int64", "name": DBZ + "MicroTimestamp"},
    ]
    assert add_columns_sql(TableRef("db", "t"), fields, "starrocks") == (
        "ALTER TABLE `db`.`t` ADD COLUMN (`a` INT NULL COMMENT 'it\\'s a \\\\ test', `b` DATETIME NULL)"
    )


# -- the evolver against a scripted connection --------------------------------------------------------


class FakeServer:
    """Tables and their columns, plus scripted failures for the next statements."""

    def __init__(self, version: str = "5.7.99") -> None:
        self.version = version
        self.tables: dict[tuple[str, str], list[str]] = {}
        self.statements: list[str] = []
        self.fail_next: list[pymysql.err.MySQLError | OSError] = []
        self.on_alter: Callable[[], None] | None = None
        self.connects: list[tuple[str, int]] = []
        self.down: set[str] = set()

    def connect(self, host: str, port: int) -> FakeConnection:
        self.connects.append((host, port))
        if host in self.down:
            raise pymysql.err.OperationalError(2003, f"Can't connect to MySQL server on '{host}'")
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.result: list[tuple[Any, ...]] = []

    def cursor(self) -> FakeConnection:
        return self

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def execute(self, sql: str, args: Any = None) -> None:
        server = self.server
        server.statements.append(sql)
        if server.fail_next:
            raise server.fail_next.pop(0)
        if sql == "SELECT VERSION()":
            self.result = [(server.version,)]
        elif sql.startswith("SELECT COLUMN_NAME"):
            self.result = [(c,) for c in server.tables.get(tuple(args), [])]
        elif sql.startswith("ALTER TABLE"):
            if server.on_alter:
                server.on_alter()
            m = re.match(r"ALTER TABLE `(\w+)`\.`(\w+)` ADD COLUMN \(?(.*)", sql)
            assert m, sql
            cols = server.tables[(m.group(1), m.group(2))]
            for name in re.findall(r"`(\w+)` [A-Z]", m.group(3)):
                if name.lower() in (c.lower() for c in cols):
                    raise pymysql.err.OperationalError(1060, f"Duplicate column name '{name}'")
                cols.append(name)
        else:
            raise AssertionError(sql)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.result[0] if self.result else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.result


TABLE = TableRef("db", "t")
SCORE = {"field": "score", "type": "int64"}
ID = {"field": "id", "type": "int32"}


def evolver(server: FakeServer, mode: str = "basic", hosts: tuple[str, ...] = ("fe1",)) -> SchemaEvolver:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    return SchemaEvolver(
        server.connect,
        [(h, 9030) for h in hosts],
        mode=mode,  # type: ignore[arg-type]
        flavor="doris",
        retry_for=10.0,
        visible_within=5.0,
        sleep=sleep,
        clock=lambda: clock[0],
    )


def alters(server: FakeServer) -> list[str]:
    return [s for s in server.statements if s.startswith("ALTER")]


def test_known_columns_are_served_from_the_cache() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id", "name"]
    ev = evolver(server)
    assert ev.ensure(TABLE, [ID]) == []
    reads = len(server.statements)
    assert ev.ensure(TABLE, [ID, {"field": "NAME", "type": "string"}]) == []
    assert len(server.statements) == reads


def test_a_column_added_by_someone_else_is_found_by_re_reading() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    ev.ensure(TABLE, [ID])
    server.tables[("db", "t")].append("score")
    assert ev.ensure(TABLE, [ID, SCORE]) == []
    assert alters(server) == []


def test_basic_adds_the_missing_columns_in_one_statement() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    note = {"field": "note", "type": "string", "parameters": {"__debezium.source.column.length": "10"}}
    assert ev.ensure(TABLE, [ID, SCORE, note]) == ["score", "note"]
    assert alters(server) == [
        "ALTER TABLE `db`.`t` ADD COLUMN (`score` BIGINT NULL, `note` VARCHAR(40) NULL)"
    ]
    assert server.tables[("db", "t")] == ["id", "score", "note"]
    assert ev.ensure(TABLE, [ID, SCORE, note]) == []
    assert len(alters(server)) == 1


def test_none_stops_the_sink_naming_table_and_columns() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server, mode="none")
    with pytest.raises(FatalSinkError) as info:
        ev.ensure(TABLE, [ID, SCORE, {"field": "note", "type": "string"}])
    message = str(info.value)
    assert "table db.t has no column for field(s) score, note" in message
    assert "spec.schemaEvolution: basic" in message
    assert info.value.reason == "MissingColumns"
    assert alters(server) == []


def test_losing_a_race_on_the_same_column_is_success() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]

    def racer_adds_it_first() -> None:
        server.on_alter = None
        server.tables[("db", "t")].append("SCORE")

    server.on_alter = racer_adds_it_first
    ev = evolver(server)
    assert ev.ensure(TABLE, [ID, SCORE]) == []
    assert server.tables[("db", "t")] == ["id", "SCORE"]


def test_a_race_on_one_of_two_columns_adds_the_other_afterwards() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]

    def racer_adds_score() -> None:
        server.on_alter = None
        server.tables[("db", "t")].append("score")

    server.on_alter = racer_adds_score
    ev = evolver(server)
    assert ev.ensure(TABLE, [ID, SCORE, {"field": "note", "type": "string"}]) == ["note"]
    assert alters(server)[-1] == "ALTER TABLE `db`.`t` ADD COLUMN `note` STRING NULL"


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (1060, "Duplicate column name 'score'", "duplicate"),
        (
            1105,
            "errCode = 2, detailMessage = Can not add column which already exists in base table: score",
            "duplicate",
        ),
        (1064, "Getting analyzing error. Detail message: Column 'score' already exists.", "duplicate"),
        (
            1105,
            "errCode = 2, detailMessage = Table[t]'s state(SCHEMA_CHANGE) is not NORMAL. "
            "Do not allow doing ALTER ops",
            "busy",
        ),
        (1105, "Table[t]'s state is not NORMAL. Do not allow doing ALTER ops", "busy"),
        (1142, "ALTER command denied to user 'u'@'h' for table 't'", "denied"),
        (2013, "Lost connection to MySQL server during query", "connection"),
        (1105, "errCode = 2, detailMessage = Unknown column 'x'", "other"),
        (1105, "errCode = 2, detailMessage = Table 'x' already exists", "other"),
    ],
)
def test_classify_database_errors(code: int, message: str, kind: str) -> None:
    assert classify(pymysql.err.OperationalError(code, message)) == kind


def test_a_busy_table_is_waited_for() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    busy = pymysql.err.OperationalError(
        1105, "errCode = 2, detailMessage = Table[t]'s state is not NORMAL. Do not allow doing ALTER ops"
    )
    refusals = [busy, busy]

    def busy_twice() -> None:
        if refusals:
            raise refusals.pop()

    server.on_alter = busy_twice
    assert ev.ensure(TABLE, [ID, SCORE]) == ["score"]
    assert len(alters(server)) == 3
    assert "score" in server.tables[("db", "t")]


def test_a_lost_connection_is_reopened() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    ev.ensure(TABLE, [ID])
    server.fail_next = [pymysql.err.OperationalError(2013, "Lost connection to server during query")]
    assert ev.ensure(TABLE, [ID, SCORE]) == ["score"]
    assert len(server.connects) == 2


def test_a_table_that_stays_busy_stops_the_sink_with_the_ddl() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    busy = pymysql.err.OperationalError(1105, "Table[t]'s state is not NORMAL. Do not allow doing ALTER ops")

    def always_busy() -> None:
        raise busy

    server.on_alter = always_busy
    with pytest.raises(
        FatalSinkError, match=r"stayed busy.*ALTER TABLE `db`.`t` ADD COLUMN `score` BIGINT NULL"
    ):
        ev.ensure(TABLE, [ID, SCORE])


def test_an_unreachable_fe_fails_over_to_the_next() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    server.down = {"fe1"}
    ev = evolver(server, hosts=("fe1", "fe2"))
    assert ev.ensure(TABLE, [ID, SCORE]) == ["score"]
    assert [h for h, _ in server.connects] == ["fe1", "fe2"]


def test_no_reachable_fe_stops_the_sink_naming_the_hosts() -> None:
    server = FakeServer()
    server.down = {"fe1", "fe2"}
    ev = evolver(server, hosts=("fe1", "fe2"))
    with pytest.raises(FatalSinkError, match=r"fe1:9030, fe2:9030.*queryPort"):
        ev.ensure(TABLE, [ID])


def test_a_missing_table_stops_the_sink() -> None:
    ev = evolver(FakeServer())
    with pytest.raises(FatalSinkError, match=r"table db.t was not found.*create it first") as info:
        ev.ensure(TABLE, [ID])
    assert info.value.reason == "TableNotFound"


def test_access_denied_says_what_to_grant() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)

    def denied() -> None:
        raise pymysql.err.OperationalError(1142, "ALTER command denied to user 'loader'")

    server.on_alter = denied
    with pytest.raises(FatalSinkError, match=r"refused.*grant the sink's user SELECT.*ALTER"):
        ev.ensure(TABLE, [ID, SCORE])


def test_an_unmappable_field_stops_the_sink_naming_it() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    with pytest.raises(FatalSinkError, match=r"cannot add a column to db.t: field 'odd'"):
        evolver(server).ensure(TABLE, [ID, {"field": "odd", "type": "int128"}])


def test_a_column_that_never_shows_up_stops_the_sink() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    original = FakeConnection.execute

    def alter_accepted_but_invisible(self: FakeConnection, sql: str, args: Any = None) -> None:
        if sql.startswith("ALTER"):
            self.server.statements.append(sql)
            return
        original(self, sql, args)

    ev = evolver(server)
    FakeConnection.execute = alter_accepted_but_invisible  # type: ignore[method-assign]
    try:
        with pytest.raises(FatalSinkError, match=r"score were added to db.t but did not appear"):
            ev.ensure(TABLE, [ID, SCORE])
    finally:
        FakeConnection.execute = original  # type: ignore[method-assign]


def test_mariadb_gets_mariadb_type_names() -> None:
    server = FakeServer(version="10.11.6-MariaDB-0+deb12u1")
    server.tables[("db", "t")] = ["id"]
    ev = evolver(server)
    ev.ensure(TABLE, [ID, {"field": "doc", "type": "string"}])
    assert ev.dialect == "mariadb"
    assert alters(server) == ["ALTER TABLE `db`.`t` ADD COLUMN `doc` LONGTEXT NULL"]


# -- the engine hook ----------------------------------------------------------------------------------


def manifest(kind: str = "DorisSink", **spec: Any) -> Any:
    body: dict[str, Any] = {"kafka": {"bootstrapServers": "k:9092", "topics": ["t"]}, **spec}
    if kind == "DorisSink":
        body.setdefault(
            "doris", {"feHosts": ["fe1", "fe2"], "queryPort": 9131, "user": "u", "database": "db"}
        )
    else:
        body.setdefault(
            "starrocks", {"httpUrls": ["http://fe1:8030", "fe2:8030"], "user": "u", "database": "db"}
        )
    return parse_manifest(
        {"apiVersion": "olapsink.io/v1alpha1", "kind": kind, "metadata": {"name": "s"}, "spec": body}
    )


WITH_SCHEMA = {"valueFormat": "json_with_schema"}
DEBEZIUM = {"valueFormat": "json_with_schema", "mode": "debezium_ingestion"}


@pytest.mark.parametrize(
    ("kind", "spec", "watched"),
    [
        ("DorisSink", {"converter": WITH_SCHEMA, "schemaEvolution": "basic"}, True),
        ("DorisSink", {"converter": WITH_SCHEMA}, False),
        ("DorisSink", {"converter": DEBEZIUM}, True),
        ("DorisSink", {"converter": {"mode": "debezium_ingestion"}, "schemaEvolution": "basic"}, False),
        ("StarRocksSink", {"converter": DEBEZIUM}, False),
        (
            "StarRocksSink",
            {
                "converter": DEBEZIUM,
                "starrocks": {"httpUrls": ["fe1:8030"], "queryPort": 9030, "user": "u", "database": "db"},
            },
            True,
        ),
    ],
)
def test_which_sinks_get_a_schema_watch(kind: str, spec: dict[str, Any], watched: bool) -> None:
    watch = watch_for_sink(manifest(kind, **spec), "pw")
    assert (watch is not None) == watched


def test_evolver_for_a_sink_uses_every_fe_and_the_query_port() -> None:
    doris = SchemaEvolver.for_sink(manifest(schemaEvolution="basic"), "pw")
    assert (doris._hosts, doris.mode, doris.flavor) == ([("fe1", 9131), ("fe2", 9131)], "basic", "doris")
    sr = manifest(
        "StarRocksSink",
        starrocks={
            "httpUrls": ["http://fe1:8030", "[::1]:8030"],
            "queryPort": 9030,
            "user": "u",
            "database": "db",
        },
    )
    assert SchemaEvolver.for_sink(sr, "pw")._hosts == [("fe1", 9030), ("::1", 9030)]


def envelope_value(fields: list[dict[str, Any]]) -> bytes:
    after = {"type": "struct", "optional": True, "fields": fields}
    schema = {
        "type": "struct",
        "name": "x.Envelope",
        "fields": [
            {**after, "field": "before"},
            {**after, "field": "after"},
            {"field": "op", "type": "string"},
        ],
    }
    return json.dumps({"schema": schema, "payload": {"after": {"id": 1}, "op": "c"}}).encode()


def test_watch_asks_once_per_table_and_schema() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    server.tables[("db", "u")] = ["id"]
    watch = SchemaWatch(evolver(server))
    old, new = envelope_value([ID]), envelope_value([ID, SCORE])
    for value in (old, old, new, new, None, b"not json", b'{"payload": {"id": 1}}'):
        watch.observe(TABLE, value)
    assert alters(server) == ["ALTER TABLE `db`.`t` ADD COLUMN `score` BIGINT NULL"]
    statements = len(server.statements)
    watch.observe(TABLE, new)
    assert len(server.statements) == statements
    watch.observe(TableRef("db", "u"), new)
    assert alters(server)[-1] == "ALTER TABLE `db`.`u` ADD COLUMN `score` BIGINT NULL"


def test_watch_in_none_mode_stops_on_the_first_record_with_a_new_field() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    watch = SchemaWatch(evolver(server, mode="none"))
    watch.observe(TABLE, envelope_value([ID]))
    with pytest.raises(FatalSinkError, match=r"field\(s\) score"):
        watch.observe(TABLE, envelope_value([ID, SCORE]))


@pytest.mark.parametrize(
    ("tls", "encrypted", "check_hostname"),
    [
        (None, False, None),
        ({"enabled": True}, True, True),
        ({"enabled": True, "skipHostnameVerification": True}, True, False),
        ({"enabled": True, "excludedProtocols": ["mysql"]}, False, None),
    ],
)
def test_doris_query_port_uses_tls_as_the_spec_says(
    tls: dict[str, Any] | None, encrypted: bool, check_hostname: bool | None
) -> None:
    doris: dict[str, Any] = {"feHosts": ["fe1"], "user": "u", "database": "db"}
    if tls:
        doris["tls"] = tls
    connect = SchemaEvolver.for_sink(manifest(doris=doris), "pw")._connect
    assert isinstance(connect, PyMySQLConnector)
    assert (connect.tls is not None) == encrypted
    if connect.tls is not None:
        assert connect.tls.check_hostname == check_hostname


# -- Avro writer schemas ------------------------------------------------------------------------------

AVRO_RECORD: dict[str, Any] = {
    "type": "record",
    "name": "User",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"], "doc": "display name"},
        {"name": "ok", "type": "boolean"},
        {"name": "n", "type": "int"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "born", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "wake", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED"]}},
        {"name": "color2", "type": "Color"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {
            "name": "addr",
            "type": {"type": "record", "name": "Addr", "fields": [{"name": "z", "type": "int"}]},
        },
        {"name": "addr2", "type": ["null", "shop.Addr"]},
        {"name": "either", "type": ["null", "long", "string"]},
        {"name": "dbz_ts", "type": {"type": "long", "connect.name": "io.debezium.time.MicroTimestamp"}},
    ],
}
AVRO_DORIS_TYPES = {
    "id": "BIGINT",
    "name": "STRING",
    "ok": "BOOLEAN",
    "n": "INT",
    "f": "FLOAT",
    "d": "DOUBLE",
    "raw": "STRING",
    "born": "DATE",
    "at": "DATETIME(6)",
    "at_ms": "DATETIME(3)",
    "wake": "VARCHAR(32)",
    "price": "DECIMAL(10,2)",
    "uid": "STRING",
    "color": "STRING",
    "color2": "STRING",
    "tags": "ARRAY<STRING>",
    "attrs": "JSON",
    "addr": "JSON",
    "addr2": "JSON",
    "either": "STRING",
    "dbz_ts": "BIGINT",  # the Avro decoder writes the number: connect.name is not a conversion
}


def test_avro_fields_map_to_the_columns_their_decoded_values_fit() -> None:
    fields = avro_fields(AVRO_RECORD)
    assert {str(x["field"]): column_type(x, "doris") for x in fields} == AVRO_DORIS_TYPES
    assert [x.get("doc") for x in fields][:2] == [None, "display name"]


def test_avro_fields_of_a_fastavro_parsed_schema_are_the_same() -> None:
    parsed = fastavro.parse_schema(AVRO_RECORD)
    assert isinstance(parsed, dict)
    assert {str(x["field"]): column_type(x, "doris") for x in avro_fields(parsed)} == AVRO_DORIS_TYPES


class FakeRegistry:
    def __init__(self, schemas: dict[int, Any], versions: dict[tuple[str, int], Any] | None = None) -> None:
        self.schemas, self.versions, self.calls = schemas, versions or {}, 0

    def get_schema(self, schema_id: int, fmt: str | None = None) -> Any:
        self.calls += 1
        return self.schemas[schema_id]

    def get_version(self, subject: str, version: int) -> Any:
        return SimpleNamespace(schema=self.versions[(subject, version)])


def avro_schema(record: dict[str, Any], refs: list[Any] | None = None, kind: str = "AVRO") -> Any:
    return SimpleNamespace(schema_str=json.dumps(record), schema_type=kind, references=refs or [])


def framed(schema_id: int) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + b"\x02"


def test_avro_watch_adds_columns_once_per_schema_id() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    v1 = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}
    v2 = {**v1, "fields": [*v1["fields"], {"name": "score", "type": ["null", "long"], "default": None}]}
    registry = FakeRegistry({1: avro_schema(v1), 2: avro_schema(v2)})
    watch = SchemaWatch(evolver(server), AvroRegistrySchemas(registry))
    for value in (framed(1), framed(1), framed(2), framed(2), b"not framed"):
        watch.observe(TABLE, value)
    assert alters(server) == ["ALTER TABLE `db`.`t` ADD COLUMN `score` BIGINT NULL"]
    assert registry.calls == 2


def test_avro_watch_resolves_referenced_types() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    addr = {"type": "record", "name": "Addr", "namespace": "shop", "fields": [{"name": "z", "type": "int"}]}
    main = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "id", "type": "long"}, {"name": "a", "type": "shop.Addr"}],
    }
    ref = SimpleNamespace(name="shop.Addr", subject="addr-value", version=1)
    registry = FakeRegistry({3: avro_schema(main, [ref])}, {("addr-value", 1): avro_schema(addr)})
    SchemaWatch(evolver(server), AvroRegistrySchemas(registry)).observe(TABLE, framed(3))
    assert alters(server) == ["ALTER TABLE `db`.`t` ADD COLUMN `a` JSON NULL"]


def test_avro_watch_skips_non_avro_schemas_and_an_unreadable_schema_is_the_records_fault() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    unreadable = SimpleNamespace(schema_str="{not json", schema_type="AVRO", references=[])
    registry = FakeRegistry({4: avro_schema({"type": "record"}, kind="PROTOBUF"), 5: unreadable})
    watch = SchemaWatch(evolver(server), AvroRegistrySchemas(registry))
    watch.observe(TABLE, framed(4))
    assert server.statements == []
    with pytest.raises(SchemaUnusableError, match="Avro schema id 5 from the registry: JSONDecode"):
        watch.observe(TABLE, framed(5))


def test_an_avro_sink_with_a_registry_gets_an_avro_watch() -> None:
    sink = manifest(
        converter={"valueFormat": "avro", "schemaRegistry": {"url": "http://r:8081"}}, schemaEvolution="basic"
    )
    watch = watch_for_sink(sink, "pw")
    assert watch is not None and isinstance(watch.source, AvroRegistrySchemas)


def test_none_skips_the_check_when_the_columns_cannot_be_read(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    server.down = {"fe1", "fe2"}
    ev = evolver(server, mode="none", hosts=("fe1", "fe2"))
    assert ev.ensure(TABLE, [ID, SCORE]) == []
    assert "cannot read the columns of db.t" in caplog.text
    tried = len(server.connects)
    assert ev.ensure(TABLE, [ID, SCORE, {"field": "other", "type": "string"}]) == []
    assert len(server.connects) == tried  # not asked again for that table


def test_none_skips_the_check_for_a_table_it_cannot_see() -> None:
    assert evolver(FakeServer(), mode="none").ensure(TABLE, [ID, SCORE]) == []


def test_none_tries_each_fe_once_instead_of_retrying_for_a_minute() -> None:
    sink = manifest(converter=DEBEZIUM)
    ev = SchemaEvolver.for_sink(sink, "pw")
    assert (ev.mode, ev._retry_for) == ("none", 0.0)
    assert SchemaEvolver.for_sink(manifest(schemaEvolution="basic"), "pw")._retry_for == 60.0


# -- Protobuf message types ---------------------------------------------------------------------------

PROTO_DORIS_TYPES = {
    "id": "BIGINT",
    "city": "STRING",
    "created": "DATETIME(6)",
    "day": "DATE",
    "at": "VARCHAR(32)",
    "amount": "DOUBLE",
    "status": "STRING",
    "raw": "STRING",
    "discount": "DOUBLE",
    "coupon": "STRING",
    "tags": "ARRAY<STRING>",
    "lines": "ARRAY<JSON>",
    "attrs": "JSON",
    "extra": "JSON",
    "note": "STRING",
}


def test_protobuf_fields_map_to_the_columns_their_decoded_values_fit() -> None:
    order, _ = order_types(2)
    fields = message_fields(order.DESCRIPTOR)
    assert {str(x["field"]): column_type(x, "doris") for x in fields} == PROTO_DORIS_TYPES


def test_unsigned_protobuf_integers_get_columns_wide_enough() -> None:
    from google.protobuf import descriptor_pb2
    from google.protobuf.descriptor_pool import DescriptorPool

    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="u.proto", package="u", syntax="proto3")
    m = fd.message_type.add(name="U")
    for number, (name, kind) in enumerate(
        [("a", F.TYPE_UINT32), ("b", F.TYPE_UINT64), ("c", F.TYPE_SINT32)], 1
    ):
        m.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL)
    pool = DescriptorPool()
    pool.Add(fd)
    fields = message_fields(pool.FindMessageTypeByName("u.U"))
    assert [column_type(x, "doris") for x in fields] == ["BIGINT", "DECIMAL(20,0)", "INT"]


def proto_schema(version: int) -> Any:
    return SimpleNamespace(
        schema_str=base64.b64encode(order_file(version).SerializeToString()).decode(),
        schema_type="PROTOBUF",
        references=[],
    )


def proto_framed(schema_id: int, indexes: bytes = b"\x02\x02") -> bytes:
    # Message-index path [1] (Order; Other is 0): count 1 and index 1, each a zig-zag varint.
    return b"\x00" + schema_id.to_bytes(4, "big") + indexes + b"\x08\x01"


def test_protobuf_watch_adds_the_columns_of_a_new_version_once() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = list(PROTO_DORIS_TYPES)[:-1]  # every v1 field
    registry = FakeRegistry({1: proto_schema(1), 2: proto_schema(2)})
    watch = SchemaWatch(evolver(server), ProtobufRegistrySchemas(registry))
    for value in (proto_framed(1), proto_framed(1), proto_framed(2), proto_framed(2), b"\x00\x00"):
        watch.observe(TABLE, value)
    assert alters(server) == ["ALTER TABLE `db`.`t` ADD COLUMN `note` STRING NULL"]
    assert registry.calls == 2


def test_protobuf_watch_with_a_bad_message_path_is_the_records_fault() -> None:
    server = FakeServer()
    server.tables[("db", "t")] = ["id"]
    watch = SchemaWatch(evolver(server), ProtobufRegistrySchemas(FakeRegistry({1: proto_schema(1)})))
    with pytest.raises(SchemaUnusableError, match=r"Protobuf schema id 1 has no message at .* path \[7\]"):
        watch.observe(TABLE, proto_framed(1, b"\x02\x0e"))


def test_a_protobuf_sink_with_a_registry_gets_a_protobuf_watch() -> None:
    sink = manifest(
        converter={"valueFormat": "protobuf", "schemaRegistry": {"url": "http://r:8081"}},
        schemaEvolution="basic",
    )
    watch = watch_for_sink(sink, "pw")
    assert watch is not None and isinstance(watch.source, ProtobufRegistrySchemas)


# -- the watch's own registry fetch: failures classified as the decoders classify them ------------------


@pytest.fixture(scope="module")
def _registry_server() -> Any:
    server = SchemaRegistryServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def registry_server(_registry_server: SchemaRegistryServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    # Each case asks the registry itself, not the fail-fast window a previous outage opened.
    monkeypatch.setattr("olapsink_worker.formats.registry.FAIL_FAST_S", 0.0)
    yield _registry_server
    _registry_server.available, _registry_server.failure = True, None


def registered_watch(registry: SchemaRegistryServer, value_format: str) -> tuple[SchemaWatch, bytes]:
    """The watch a sink of ``value_format`` gets, and a value naming a schema the registry has."""
    if value_format == "avro":
        record = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}
        schema_id = registry.store.register("t-value", {"schema": json.dumps(record)})
        value = framed(schema_id)
    else:
        body = {"schema": proto_schema(1).schema_str, "schemaType": "PROTOBUF"}
        value = proto_framed(registry.store.register("t-value", body))
    sink = manifest(
        converter={"valueFormat": value_format, "schemaRegistry": {"url": registry.url}},
        schemaEvolution="basic",
    )
    watch = watch_for_sink(sink, "pw")
    assert watch is not None
    return watch, value


@pytest.mark.parametrize("value_format", ["avro", "protobuf"])
def test_watch_raises_registry_unavailable_and_asks_once_per_record(
    registry_server: SchemaRegistryServer, value_format: str
) -> None:
    watch, value = registered_watch(registry_server, value_format)
    registry_server.available = False
    before = registry_server.store.requests
    with pytest.raises(RegistryUnavailableError, match="is unavailable") as raised:
        watch.observe(TABLE, value)
    assert raised.value.url == registry_server.url
    # No retries of the client's own: they would sleep in the engine loop; the engine retries later.
    assert registry_server.store.requests - before == 1
    registry_server.available = True
    key = watch.source.key(value)
    assert watch.source.fields(key), "read once the registry answers again"


@pytest.mark.parametrize("value_format", ["avro", "protobuf"])
def test_watch_refused_by_the_registry_stops_the_sink_naming_the_secret(
    registry_server: SchemaRegistryServer, value_format: str
) -> None:
    watch, value = registered_watch(registry_server, value_format)
    registry_server.failure = (401, 40101)
    with pytest.raises(RegistryConfigError, match="basicAuthSecretRef"):
        watch.observe(TABLE, value)


def test_watch_given_an_unknown_schema_id_blames_the_record(
    registry_server: SchemaRegistryServer,
) -> None:
    watch, _ = registered_watch(registry_server, "avro")
    with pytest.raises(RecordError, match="cannot use Avro schema id 9999"):
        watch.observe(TABLE, framed(9999))
