"""Source records to row operations under a table's model and the load's options (pure; no I/O).

Rules (doris.md §8.7, starrocks.md §4.1, §5): values that fail type conversion become NULL, or filter the
row in strict mode; NULL into a NOT NULL column always filters; a string longer than its column filters;
unknown JSON keys are ignored and missing keys are NULL; columns absent from a `columns` header take
their default.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.body import SourceRecord
from tests.emulator.dialects import Dialect, Flavor
from tests.emulator.options import DELETE_SIGN, OP_COLUMN, ColumnMapping, LoadOptions, LoadRejected
from tests.emulator.tables import Op, TableSchema

_INT_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "mediumint": (-(2**23), 2**23 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATETIME_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d{1,6})?$")


class _Fail:
    """Conversion failed (NULL in non-strict mode, filtered in strict mode)."""


class _TooLong:
    """The value does not fit its column; always filtered."""


FAIL = _Fail()
TOO_LONG = _TooLong()


Converter = Callable[[Any], Any]


def _guard(fn: Converter) -> Converter:
    """None stays None; conversion errors are FAIL."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        try:
            return fn(value)
        except (ValueError, ArithmeticError, TypeError):
            return FAIL

    return run


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return {"true": 1, "false": 0, "1": 1, "0": 0}.get(str(value).strip().lower(), FAIL)


def _int_converter(low: int, high: int) -> Converter:
    def to_int(value: Any) -> Any:
        if isinstance(value, (bool, float)):
            return FAIL
        number = value if isinstance(value, int) else int(str(value).strip())
        # Out-of-range numbers become NULL whatever strict_mode says (doris.md §8.7).
        return number if low <= number <= high else None

    return to_int


def _to_float(value: Any) -> Any:
    return FAIL if isinstance(value, bool) else float(value)


def _decimal_converter(precision: int | None, scale: int) -> Converter:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def to_decimal(value: Any) -> Any:
        if isinstance(value, bool):
            return FAIL
        exact = decimal.Decimal(str(value).strip())
        if not exact.is_finite():
            return FAIL
        exact = exact.quantize(quantum, rounding=decimal.ROUND_HALF_UP)
        int_digits = len(str(abs(exact)).split(".")[0].lstrip("0"))
        return None if precision is not None and int_digits > precision - scale else exact

    return to_decimal


def _text_converter(max_bytes: int | None) -> Converter:
    def to_text(value: Any) -> Any:
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = str(value)
        else:
            text = json.dumps(value, separators=(",", ":"))
        # Doris and StarRocks count VARCHAR length in bytes.
        if max_bytes is not None and len(text) * 4 > max_bytes and len(text.encode()) > max_bytes:
            return TOO_LONG
        return text

    return to_text


def _to_date(value: Any) -> Any:
    if not isinstance(value, str):
        return FAIL
    m = _DATE_RE.match(value.strip()) or _DATETIME_RE.match(value.strip())
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else FAIL


def _to_datetime(value: Any) -> Any:
    if not isinstance(value, str):
        return FAIL
    text = value.strip()
    m = _DATETIME_RE.match(text)
    if m:
        micro = int((m.group(7) or ".0")[1:].ljust(6, "0"))
        y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
        return dt.datetime(y, mo, d, h, mi, sec, micro)
    m = _DATE_RE.match(text)
    return dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else FAIL


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        json.loads(value)
        return value
    return json.dumps(value, separators=(",", ":"))


def converter_for(column: Any) -> Converter:
    """The function turning a source value into the column's Python value, FAIL or TOO_LONG."""
    t = column.data_type
    if column.is_bool:
        return _guard(_to_bool)
    if t in _INT_RANGES:
        return _guard(_int_converter(*_INT_RANGES[t]))
    if t in ("float", "double"):
        return _guard(_to_float)
    if t == "decimal":
        return _guard(_decimal_converter(column.precision, column.scale or 0))
    if t in ("char", "varchar", "tinytext", "text", "mediumtext", "longtext"):
        return _guard(_text_converter(column.char_length if t in ("char", "varchar") else None))
    if t == "date":
        return _guard(_to_date)
    if t in ("datetime", "timestamp"):
        return _guard(_to_datetime)
    if t == "json":
        return _guard(_to_json)
    return lambda value: value


def convert(value: Any, column: Any) -> Any:
    """A source value as the column's Python value, or FAIL / TOO_LONG; None stays None."""
    return converter_for(column)(value)


@dataclass
class Plan:
    """What one load body does to one table."""

    ops: list[Op] = field(default_factory=list)
    filtered: list[tuple[str, str]] = field(default_factory=list)  # (reason, raw source)
    total: int = 0
    unselected: int = 0
    counted: int | None = None  # count-only mode: rows counted, no operations built

    @property
    def loaded(self) -> int:
        return len(self.ops) if self.counted is None else self.counted


def source_names(schema: TableSchema, opts: LoadOptions) -> list[str]:
    """The source field names of a CSV row or of a jsonpaths result, in order."""
    if opts.columns is not None:
        # Entries with '=' are derived; the others are the source fields, in order.
        return [m.target for m in opts.columns if not m.is_constant and m.source == m.target]
    names = [c.name for c in schema.columns]
    if opts.hidden_delete_sign:
        names.append(DELETE_SIGN)
    return names


def _jsonpath(doc: Any, path: str) -> Any:
    if path in ("$", "$."):
        return doc
    if not path.startswith("$."):
        return None
    current = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path[2:]):
        if part.startswith("["):
            idx = int(part[1:-1])
            current = current[idx] if isinstance(current, list) and idx < len(current) else None
        else:
            current = current.get(part) if isinstance(current, dict) else None
        if current is None:
            return None
    return current


def _mappings(schema: TableSchema, opts: LoadOptions, dialect: Dialect) -> list[ColumnMapping]:
    """Target ← source mappings: the `columns` header, or every table column by name."""
    specials = {DELETE_SIGN} if dialect.flavor is Flavor.DORIS else {OP_COLUMN}
    if opts.columns is not None:
        sources = {m.source for m in opts.columns if m.source and m.source != m.target}
        for m in opts.columns:
            if m.target not in schema.by_name and m.target not in specials and m.target not in sources:
                raise LoadRejected(
                    dialect.message("ANALYSIS_ERROR", f"Unknown column '{m.target}' in '{schema.name}'"),
                    "ANALYSIS_ERROR",
                )
        return [m for m in opts.columns if m.target in schema.by_name or m.target in specials]
    mappings = [ColumnMapping(c.name, source=c.name) for c in schema.columns]
    if opts.hidden_delete_sign:
        mappings.append(ColumnMapping(DELETE_SIGN, source=DELETE_SIGN))
    elif dialect.flavor is Flavor.STARROCKS and opts.format == "json" and schema.model == "PRIMARY":
        # "stream load json will automatically check __op field in json object" (PK tables only).
        mappings.append(ColumnMapping(OP_COLUMN, source=OP_COLUMN))
    return mappings


def check_table_options(schema: TableSchema, opts: LoadOptions, dialect: Dialect) -> None:
    """Refuse option/model combinations the real servers refuse."""
    if dialect.flavor is Flavor.DORIS:
        if opts.merge_type != "APPEND" and not schema.keyed:
            raise LoadRejected(
                dialect.message(
                    "ANALYSIS_ERROR", "load by MERGE or DELETE is only supported in unique tables."
                ),
                "ANALYSIS_ERROR",
            )
        if opts.hidden_delete_sign and not schema.keyed:
            raise LoadRejected(
                dialect.message(
                    "ANALYSIS_ERROR",
                    f"emulator (stricter than inferred Doris): {DELETE_SIGN} exists only in unique tables; "
                    f"table {schema.name} is DUPLICATE",
                ),
                "ANALYSIS_ERROR",
            )
        if opts.partial_update and not schema.keyed:
            raise LoadRejected(
                dialect.message("ANALYSIS_ERROR", "Only unique key merge on write support partial update"),
                "ANALYSIS_ERROR",
            )
        if opts.sequence_col and not schema.sequence_col:
            raise LoadRejected(
                dialect.message("ANALYSIS_ERROR", f"There is no sequence column in the table {schema.name}"),
                "ANALYSIS_ERROR",
            )
    elif opts.partial_update and schema.model != "PRIMARY":
        raise LoadRejected("Only primary key table support partial update", "ANALYSIS_ERROR")
    if opts.merge_condition and opts.merge_condition not in schema.by_name:
        raise LoadRejected(f"Merge condition column {opts.merge_condition} does not exist", "ANALYSIS_ERROR")
    if opts.partial_update:
        if opts.columns is None:
            raise LoadRejected(
                dialect.message(
                    "INVALID_ARGUMENT", "partial update needs the columns header (key + updated columns)"
                )
            )
        listed = {m.target for m in opts.columns}
        missing = [k for k in schema.key if k not in listed]
        if missing:
            raise LoadRejected(
                dialect.message(
                    "INVALID_ARGUMENT", f"partial update must include all key columns, missing {missing}"
                )
            )


def _is_delete(op_value: Any, dialect: Dialect) -> bool | None:
    """The __op / delete-sign value as delete (True), upsert (False) or invalid (None)."""
    if op_value is None:
        return False
    text = str(op_value).strip().lower()
    if text in ("0", "upsert", "false"):
        return False
    if text in ("1", "delete", "true"):
        return True
    return None


def build_plan(
    records: Sequence[SourceRecord], schema: TableSchema, opts: LoadOptions, dialect: Dialect
) -> Plan:
    check_table_options(schema, opts, dialect)
    plan = Plan(total=len(records))
    mappings = _mappings(schema, opts, dialect)
    listed = {m.target for m in mappings}
    positional = source_names(schema, opts) if opts.jsonpaths is not None else None
    condition_col = schema.sequence_col if dialect.flavor is Flavor.DORIS else opts.merge_condition
    op_target = DELETE_SIGN if dialect.flavor is Flavor.DORIS else OP_COLUMN
    converter = _RowConverter(schema, opts, listed)
    for record in records:
        if record.fields is None:
            plan.filtered.append((record.error or "malformed record", record.raw))
            continue
        source = record.fields
        if positional is not None and opts.jsonpaths is not None:
            source = {
                n: _jsonpath(record.fields, p) for n, p in zip(positional, opts.jsonpaths, strict=False)
            }
        values: dict[str, Any] = {}
        for m in mappings:
            values[m.target] = m.constant if m.is_constant else source.get(m.source or m.target)
        delete = False
        if schema.keyed:
            if dialect.flavor is Flavor.DORIS and opts.merge_type == "DELETE":
                delete = True
            elif dialect.flavor is Flavor.DORIS and opts.merge_type == "MERGE" and opts.delete_condition:
                raw = source.get(opts.delete_condition.column)
                delete = raw is not None and str(raw).lower() == opts.delete_condition.value.lower()
            elif op_target in values and (dialect.flavor is Flavor.DORIS or schema.model == "PRIMARY"):
                verdict = _is_delete(values[op_target], dialect)
                if verdict is None:
                    plan.filtered.append((f"invalid value {values[op_target]!r} for {op_target}", record.raw))
                    continue
                delete = verdict
        values.pop(op_target, None)
        row, reason = converter.row(values, delete)
        if reason is not None:
            plan.filtered.append((reason, record.raw))
            continue
        if not schema.keyed:
            plan.ops.append(Op("append", row))
        elif delete:
            plan.ops.append(Op("delete", row, condition_col if dialect.flavor is Flavor.DORIS else None))
        else:
            plan.ops.append(Op("partial" if opts.partial_update else "upsert", row, condition_col))
    return plan


class _RowConverter:
    """Per-load conversion of mapped values into a table row, with the columns worked out once."""

    def __init__(self, schema: TableSchema, opts: LoadOptions, listed: set[str]) -> None:
        self.strict = opts.strict_mode
        self.partial = opts.partial_update

        def plan(names: list[str]) -> list[tuple[str, Converter, bool]]:
            return [
                (n, converter_for(schema.by_name[n]), not schema.by_name[n].nullable or n in schema.key)
                for n in names
            ]

        self.delete_columns = plan(list(schema.key) + ([schema.sequence_col] if schema.sequence_col else []))
        if opts.partial_update or opts.columns is not None:
            self.columns = plan([c.name for c in schema.columns if c.name in listed])
        else:
            self.columns = plan([c.name for c in schema.columns])
        self.missing_error: str | None = None
        self.missing_null: list[str] = []
        if not opts.partial_update:
            unlisted = [c for c in schema.columns if c.name not in {n for n, _, _ in self.columns}]
            if opts.columns is None:
                self.missing_null = [c.name for c in unlisted]  # a key missing from the JSON object is NULL
            else:
                lacking = [c.name for c in unlisted if not c.has_default]
                if lacking:
                    self.missing_error = (
                        f"column({lacking[0]}) is not in the columns header and has no default value"
                    )

    def row(self, values: dict[str, Any], delete: bool) -> tuple[dict[str, Any], str | None]:
        row: dict[str, Any] = {}
        for name, conv, required in self.delete_columns if delete else self.columns:
            raw = values.get(name)
            value = conv(raw)
            if value is TOO_LONG:
                return (
                    row,
                    f"the length of input is too long than schema. column_name: {name}; input: {raw!r}",
                )
            if value is FAIL:
                if self.strict:
                    return (
                        row,
                        f"column({name}) value is incorrect while strict mode is true, src value is {raw!r}",
                    )
                value = None
            if value is None and required:
                return row, f"column({name}) values is null while columns is not nullable"
            row[name] = value
        if not delete:
            if self.missing_error:
                return row, self.missing_error
            for name in self.missing_null:
                row[name] = None
        return row, None
