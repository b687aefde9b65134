"""Shared by the test_formats_* integration tests: the order table, secrets for the registry, row reading."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from tests.schema_registry.fixtures import USER_INFO
from tests.worker.harness import sink_doc

# Doris and StarRocks have no TIME column: times load as text, as the JSON path leaves them.
ORDER_COLUMNS = {
    "id": "BIGINT",
    "city": "VARCHAR(32)",
    "created": "DATETIME(6)",
    "updated": "DATETIME(6)",
    "day": "DATE",
    "at": "VARCHAR(20)",
    "amount": "DECIMAL(12,2)",
    "paid": "BOOLEAN",
    "score": "DOUBLE",
    "note": "VARCHAR(32)",
}
SELECT = (
    "SELECT id, city, created, updated, day, at, amount, paid, score, note FROM `{db}`.`{table}` ORDER BY id"
)


def fresh_topic(broker: Any, prefix: str = "f") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    broker.create_topic(name, 1)
    return name


def registry_secret(tmp_path: Path, monkeypatch: Any) -> dict[str, Any]:
    """Mount the registry's user:password where the worker reads secrets; the spec's schemaRegistry."""
    (tmp_path / "sr-auth").mkdir()
    (tmp_path / "sr-auth" / "userinfo").write_text(USER_INFO)
    monkeypatch.setenv("OLAPSINK_SECRETS_DIR", str(tmp_path))
    return {"basicAuthSecretRef": {"name": "sr-auth", "key": "userinfo"}}


def orders_database(emulator: Any, columns: dict[str, str] = ORDER_COLUMNS) -> str:
    """A fresh database holding the DUPLICATE ``orders`` table the format tests load into."""
    db = str(emulator.create_database())
    emulator.create_table(db, "orders", "DUPLICATE", columns, key=["id"])
    return db


def registry_sink(
    emulator: Any,
    broker: Any,
    registry: Any,
    db: str,
    topic: str,
    value_format: str,
    tmp_path: Path,
    monkeypatch: Any,
    **spec: Any,
) -> dict[str, Any]:
    """A sink from ``topic`` into ``orders`` decoding through the test registry, with its basic auth."""
    converter = {
        "valueFormat": value_format,
        "schemaRegistry": {"url": registry.url, **registry_secret(tmp_path, monkeypatch)},
    }
    return sink_doc(emulator, broker, db, [topic], {topic: "orders"}, converter=converter, **spec)


def table_rows(emulator: Any, db: str, table: str = "orders") -> list[tuple[Any, ...]]:
    rows = emulator.query(SELECT.format(db=db, table=table))
    return [tuple(_plain(v) for v in row) for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def dead_letters(broker: Any, topic: str, want: int) -> list[Any]:
    consumer = Consumer(
        broker.client_config(**{"group.id": f"r{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    got: list[Any] = []
    try:
        for _ in range(60):
            got += [m for m in consumer.consume(10, 0.5) if m.error() is None]
            if len(got) >= want:
                break
    finally:
        consumer.close()
    return got
