"""Which table a record goes to: by topic (``spec.tables``) or by a field of the row (``spec.tableField``).

Topic routing is decided once per topic and cached, so the hot path pays one dict lookup per consume batch
run, not per record. Field routing (the connectors' ``record.tablename.field``) needs the row parsed, so it
is only done when configured; its value may be ``table`` (default database) or ``db.table``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from olapsink_worker.errors import ConfigError, ConfigProblem, RecordError
from olapsink_worker.tables import TableRef


class Router:
    def __init__(
        self,
        target_for_topic: Callable[[str], TableRef],
        *,
        default_database: str,
        table_field: str | None = None,
    ) -> None:
        self._target_for_topic = target_for_topic
        self.default_database = default_database
        self.table_field = table_field or None
        self._by_topic: dict[str, TableRef] = {}
        self._by_name: dict[str, TableRef] = {}
        self._decode = msgspec.json.Decoder().decode

    @classmethod
    def for_sink(cls, sink: Any) -> Router:
        spec = sink.spec
        return cls(spec.target_for_topic, default_database=spec.database, table_field=spec.table_field)

    @property
    def by_field(self) -> bool:
        return self.table_field is not None

    def table_for_topic(self, topic: str) -> TableRef:
        """The topic's table. Raises ConfigError (the sink cannot route the topic at all)."""
        try:
            return self._by_topic[topic]
        except KeyError:
            pass
        try:
            table = self._target_for_topic(topic)
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                ConfigProblem(
                    "spec.tables", f"topic {topic!r} has no target table: {exc}; add it to spec.tables"
                )
            ) from exc
        self._by_topic[topic] = table
        return table

    def table_for_row(self, topic: str, row: bytes) -> TableRef:
        """The table named by the row's ``tableField``, falling back to the topic's table when the field
        is absent or empty. Raises RecordError for an unparsable row or an invalid name."""
        assert self.table_field is not None
        try:
            obj = self._decode(row)
        except msgspec.DecodeError as exc:
            raise RecordError(
                f"cannot read tableField {self.table_field!r}: row is not JSON ({exc})"
            ) from exc
        name = obj.get(self.table_field) if isinstance(obj, dict) else None
        if name is None or name == "":
            return self.table_for_topic(topic)
        if not isinstance(name, str):
            raise RecordError(f"tableField {self.table_field!r} must be a string, got {name!r}")
        try:
            return self._by_name[name]
        except KeyError:
            pass
        try:
            table = TableRef.parse(name, self.default_database)
        except ValueError as exc:
            raise RecordError(f"tableField {self.table_field!r}: {exc}") from exc
        if len(self._by_name) > 10_000:  # bounded: names come from data
            self._by_name.clear()
        self._by_name[name] = table
        return table
