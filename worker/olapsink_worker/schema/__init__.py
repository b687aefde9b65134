"""Schema evolution: keep the target tables' columns ahead of the record schemas (spec.schemaEvolution)."""

from olapsink_worker.schema.column_types import TypeDialect, UnmappableFieldError, column_type
from olapsink_worker.schema.diff import add_columns_sql, column_definition, missing_fields, row_fields
from olapsink_worker.schema.evolver import SchemaEvolver, pymysql_connector

__all__ = [
    "SchemaEvolver",
    "TypeDialect",
    "UnmappableFieldError",
    "add_columns_sql",
    "column_definition",
    "column_type",
    "missing_fields",
    "pymysql_connector",
    "row_fields",
]
