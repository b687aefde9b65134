"""Emulator tables in MariaDB: the creation helper, schema lookup and applying a load's row operations.

The key model (DUPLICATE, UNIQUE, PRIMARY), key columns and sequence column are kept in the table
COMMENT, so any emulator process pointed at the same MariaDB knows them after a restart.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pymysql.converters import escape_string

from tests.emulator.dialects import Dialect

COMMENT_PREFIX = "olapsink-emulator "

# Doris/StarRocks type names that MariaDB spells differently.
_TYPE_ALIASES = [
    (re.compile(r"^STRING\b", re.I), "LONGTEXT"),
    (re.compile(r"^LARGEINT\b", re.I), "DECIMAL(39,0)"),
    (re.compile(r"^DATEV2\b", re.I), "DATE"),
    (re.compile(r"^DATETIMEV2\b", re.I), "DATETIME"),
    (re.compile(r"^DECIMALV3\b", re.I), "DECIMAL"),
    (re.compile(r"^(JSONB|VARIANT)\b", re.I), "JSON"),
]


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # MariaDB DATA_TYPE, lower-case: int, varchar, decimal, datetime, ...
    column_type: str
    nullable: bool
    has_default: bool
    char_length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def is_bool(self) -> bool:
        return self.column_type.lower().startswith("tinyint(1)")


@dataclass
class TableSchema:
    db: str
    name: str
    model: str
    key: list[str]
    columns: list[Column]
    sequence_col: str | None = None
    by_name: dict[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {c.name: c for c in self.columns}

    @property
    def keyed(self) -> bool:
        return self.model in ("UNIQUE", "PRIMARY")


class TableError(ValueError):
    """A table helper call that cannot work; the message says which argument to change."""


def mariadb_type(doris_type: str) -> str:
    for pattern, replacement in _TYPE_ALIASES:
        doris_type = pattern.sub(replacement, doris_type.strip())
    return doris_type


def create_table_sql(
    dialect: Dialect,
    db: str,
    name: str,
    model: str,
    columns: Mapping[str, str] | Sequence[tuple[str, str]],
    key: Sequence[str] | None = None,
    sequence_col: str | None = None,
) -> str:
    """DDL for an emulator table. `columns` maps names to Doris-style types ("INT NOT NULL", "STRING")."""
    model = model.upper()
    allowed = ("DUPLICATE", *dialect.keyed_models)
    if model not in allowed:
        raise TableError(f"model {model!r} is not a {dialect.flavor} key model here; use one of {allowed}")
    items = list(columns.items()) if isinstance(columns, Mapping) else list(columns)
    names = [n for n, _ in items]
    key = list(key) if key else names[:1]
    missing = [k for k in key if k not in names]
    if missing:
        raise TableError(f"key columns {missing} are not among the columns {names}")
    if sequence_col and (model == "DUPLICATE" or sequence_col not in names):
        raise TableError(f"sequence_col {sequence_col!r} needs a keyed model and must be one of {names}")
    defs = [f"`{n}` {mariadb_type(t)}" for n, t in items]
    if model != "DUPLICATE":
        defs.append("PRIMARY KEY (" + ", ".join(f"`{k}`" for k in key) + ")")
    meta = json.dumps({"model": model, "key": key, "sequence_col": sequence_col})
    comment = (COMMENT_PREFIX + meta).replace("'", "''")
    return (
        f"CREATE TABLE `{db}`.`{name}` (\n  "
        + ",\n  ".join(defs)
        + f"\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='{comment}'"
    )


_COLUMN_LINE = re.compile(r"^`((?:[^`]|``)+)` (\w+)(?:\(([^)]*)\))?(.*?),?$")
_KEY_LINE = re.compile(r"^PRIMARY KEY \((.*)\)")
_COMMENT = re.compile(r"COMMENT='((?:[^']|'')*)'\s*$")


def parse_create_table(db: str, table: str, ddl: str) -> TableSchema:
    """A schema from MariaDB's SHOW CREATE TABLE text.

    information_schema is avoided on purpose: MariaDB 10.11 was seen crashing (signal 11 while dropping the
    Aria temporary table) on concurrent information_schema.COLUMNS queries here.
    """
    columns: list[Column] = []
    pk: list[str] = []
    for line in (ln.strip() for ln in ddl.splitlines()[1:]):
        m = _COLUMN_LINE.match(line)
        if m:
            name, base, args, rest = m.group(1).replace("``", "`"), m.group(2).lower(), m.group(3), m.group(4)
            data_type = "json" if "json_valid(" in rest else base
            numbers = [int(x) for x in (args or "").split(",") if x.strip().isdigit()]
            columns.append(
                Column(
                    name=name,
                    data_type=data_type,
                    column_type=f"{base}({args})" if args is not None else base,
                    nullable="NOT NULL" not in rest,
                    has_default="DEFAULT " in rest or "NOT NULL" not in rest,
                    char_length=numbers[0] if base in ("char", "varchar") and numbers else None,
                    precision=numbers[0] if base == "decimal" and numbers else None,
                    scale=numbers[1] if base == "decimal" and len(numbers) > 1 else None,
                )
            )
            continue
        k = _KEY_LINE.match(line)
        if k:
            pk = [c.strip().strip("`") for c in k.group(1).split(",")]
    comment_match = _COMMENT.search(ddl.splitlines()[-1])
    comment = comment_match.group(1).replace("''", "'") if comment_match else ""
    if comment.startswith(COMMENT_PREFIX):
        meta = json.loads(comment[len(COMMENT_PREFIX) :])
        return TableSchema(db, table, meta["model"], meta["key"], columns, meta.get("sequence_col"))
    # A table created by plain SQL: a primary key makes it UNIQUE, otherwise DUPLICATE.
    return TableSchema(db, table, "UNIQUE" if pk else "DUPLICATE", pk or [columns[0].name], columns)


def load_schema(conn: pymysql.connections.Connection, db: str, table: str) -> TableSchema | str | None:
    """The table's schema; the string "no_database" when the database is missing; None when the table is."""
    with conn.cursor() as cur:
        try:
            cur.execute(f"SHOW CREATE TABLE {_q(db)}.{_q(table)}")
        except pymysql.err.MySQLError as exc:
            if exc.args[0] == 1049:  # unknown database
                return "no_database"
            if exc.args[0] == 1146:  # no such table
                return None
            raise
        row = cur.fetchone()
    return parse_create_table(db, table, str(row[1]))


@dataclass
class Op:
    """One row operation of a load, in body order."""

    kind: str  # append | upsert | delete | partial
    values: dict[str, Any]
    condition_col: str | None = None  # apply only when values[col] >= the stored value


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def existing_keys(
    conn: pymysql.connections.Connection, schema: TableSchema, keys: Iterable[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    keys = list(dict.fromkeys(keys))
    found: set[tuple[Any, ...]] = set()
    cols = ", ".join(_q(k) for k in schema.key)
    where = " AND ".join(f"{_q(k)}=%s" for k in schema.key)
    with conn.cursor() as cur:
        for key in keys:
            cur.execute(f"SELECT {cols} FROM {_q(schema.db)}.{_q(schema.name)} WHERE {where}", key)
            if cur.fetchone():
                found.add(key)
    return found


def apply_ops(conn: pymysql.connections.Connection, schema: TableSchema, ops: Sequence[Op]) -> None:
    """Apply the operations in order inside the caller's transaction, batching runs of the same shape."""
    table = f"{_q(schema.db)}.{_q(schema.name)}"
    with conn.cursor() as cur:
        i = 0
        while i < len(ops):
            first = ops[i]
            shape = (first.kind, tuple(first.values), first.condition_col)
            j = i
            while j < len(ops) and (ops[j].kind, tuple(ops[j].values), ops[j].condition_col) == shape:
                j += 1
            run = ops[i:j]
            cols = list(first.values)
            params = [tuple(op.values[c] for c in cols) for op in run]
            if first.kind == "delete":
                where = " AND ".join(f"{_q(k)}=%s" for k in schema.key)
                if first.condition_col:
                    where += f" AND ({_q(first.condition_col)} IS NULL OR {_q(first.condition_col)} <= %s)"
                    params = [
                        (*(op.values[k] for k in schema.key), op.values[first.condition_col]) for op in run
                    ]
                else:
                    params = [tuple(op.values[k] for k in schema.key) for op in run]
                cur.executemany(f"DELETE FROM {table} WHERE {where}", params)
            else:
                names = ", ".join(_q(c) for c in cols)
                head = f"INSERT INTO {table} ({names}) VALUES "
                tail = ""
                if first.kind in ("upsert", "partial"):
                    updates = [c for c in cols if c not in schema.key]
                    # A full-row upsert resets the columns it does not mention to their default.
                    unlisted = (
                        []
                        if first.kind == "partial"
                        else [c.name for c in schema.columns if c.name not in cols]
                    )
                    new = {c: f"VALUES({_q(c)})" for c in updates} | {
                        c: f"DEFAULT({_q(c)})" for c in unlisted
                    }
                    cond = first.condition_col
                    if cond:
                        # Assignments run left to right, so the condition column goes last.
                        order = [c for c in new if c != cond] + ([cond] if cond in new else [])
                        test = f"(VALUES({_q(cond)}) >= {_q(cond)} OR {_q(cond)} IS NULL)"
                        sets = [f"{_q(c)}=IF({test}, {new[c]}, {_q(c)})" for c in order]
                    else:
                        sets = [f"{_q(c)}={expr}" for c, expr in new.items()]
                    if not sets:  # a key-only table: nothing to update
                        sets = [f"{_q(schema.key[0])}={_q(schema.key[0])}"]
                    tail = " ON DUPLICATE KEY UPDATE " + ", ".join(sets)
                for statement in insert_statements(head, params, tail):
                    cur.execute(statement)
            i = j


def _string_literal(value: str) -> str:
    return "'" + escape_string(value) + "'"


def _other_literal(value: Any) -> str:
    """Values of column types without a converter (e.g. ENUM, BLOB) go in as text."""
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)
    return _string_literal(text)


# SQL literals by Python type; pymysql's generic escaping was most of the time of a large load.
_LITERALS: dict[type, Callable[[Any], str]] = {
    type(None): lambda _: "NULL",
    int: str,
    bool: lambda v: "1" if v else "0",
    float: repr,
    decimal.Decimal: str,
    str: _string_literal,
    dt.date: lambda v: f"'{v.isoformat()}'",
    dt.datetime: lambda v: f"'{v.isoformat(sep=' ')}'",
}


def insert_statements(
    head: str, rows: Sequence[tuple[Any, ...]], tail: str, max_bytes: int = 1 << 20
) -> Iterator[str]:
    """Multi-row INSERTs of at most about `max_bytes` each (MariaDB's max_allowed_packet is 16 MB)."""
    chunk: list[str] = []
    size = 0
    for row in rows:
        literal = "(" + ",".join(_LITERALS.get(type(v), _other_literal)(v) for v in row) + ")"
        chunk.append(literal)
        size += len(literal) + 1
        if size >= max_bytes:
            yield head + ",".join(chunk) + tail
            chunk, size = [], 0
    if chunk:
        yield head + ",".join(chunk) + tail
