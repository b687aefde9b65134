"""Which fields of a record schema the table lacks, and the DDL that adds them. Pure functions.

Case rule: Doris, StarRocks and MariaDB all treat column names case-insensitively (a table cannot hold both
``name`` and ``Name``, and a load matches either spelling), so a field matches a column when their
case-folded names are equal. A field is added under its own spelling. Of several fields whose names differ
only by case, the first one counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from olapsink_worker.schema.column_types import TypeDialect, column_type
from olapsink_worker.tables import TableRef

# Delete markers, never required nor added as columns: the decoder's own, and the one Debezium's
# ExtractNewRecordState adds with delete.handling.mode=rewrite (the decoder turns it into the marker).
MARKER_COLUMNS = frozenset({"__doris_delete_sign__", "__op", "__deleted"})

Field = Mapping[str, Any]


def row_fields(schema: Mapping[str, Any]) -> list[Field]:
    """The fields of one row image of a Connect struct schema.

    A Debezium envelope (a struct with an ``after`` struct field) gives the ``after`` fields; any other
    struct (a flattened row, or a plain JsonConverter schema) gives its own fields.
    """
    fields = [f for f in schema.get("fields") or [] if isinstance(f, Mapping) and "field" in f]
    for field in fields:
        if field["field"] == "after" and field.get("type") == "struct":
            return [f for f in field.get("fields") or [] if isinstance(f, Mapping) and "field" in f]
    return fields


def missing_fields(fields: Sequence[Field], columns: Iterable[str]) -> list[Field]:
    """The fields no column answers to, in schema order (see the module docstring for the case rule)."""
    known = {c.casefold() for c in columns}
    missing: list[Field] = []
    for field in fields:
        key = str(field["field"]).casefold()
        if key in known or key in MARKER_COLUMNS:
            continue
        known.add(key)
        missing.append(field)
    return missing


def quote_identifier(name: str) -> str:
    if not name:
        raise ValueError("an empty name cannot be a column or table name")
    return "`" + name.replace("`", "``") + "`"


def _string_literal(text: str) -> str:
    # Backslash escapes: Doris, StarRocks and MariaDB (default sql_mode) all read \' and \\ in '...'.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def column_definition(field: Field, dialect: TypeDialect) -> str:
    """```name` TYPE NULL [COMMENT '…']``: always NULL-able, since the rows already loaded have no value.

    Raises UnmappableFieldError (from column_type) for a type without a column type.
    """
    text = f"{quote_identifier(str(field['field']))} {column_type(field, dialect)} NULL"
    doc = field.get("doc")
    if isinstance(doc, str) and doc:
        text += f" COMMENT {_string_literal(doc)}"
    return text


def add_columns_sql(table: TableRef, fields: Sequence[Field], dialect: TypeDialect) -> str:
    """One ``ALTER TABLE … ADD COLUMN`` for all the fields (one schema-change job in Doris, not several)."""
    if not fields:
        raise ValueError("no fields to add")
    target = f"{quote_identifier(table.database)}.{quote_identifier(table.table)}"
    defs = [column_definition(f, dialect) for f in fields]
    if len(defs) == 1:
        return f"ALTER TABLE {target} ADD COLUMN {defs[0]}"
    return f"ALTER TABLE {target} ADD COLUMN ({', '.join(defs)})"
