"""Where rows go: a database and a table, as both Doris and StarRocks name them."""

from __future__ import annotations

from typing import NamedTuple


class TableRef(NamedTuple):
    """A target table. ``str()`` gives ``db.table``, the form users write in topic→table maps."""

    database: str
    table: str

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"

    @classmethod
    def parse(cls, name: str, default_database: str | None) -> TableRef:
        """Split ``db.table``; a bare ``table`` takes ``default_database``.

        Raises ``ValueError`` (callers turn it into a ConfigError/RecordError naming the field) when
        no database can be found or a part is empty.
        """
        database, dot, table = name.partition(".")
        if not dot:
            database, table = default_database or "", name
        if not database or not table or "." in table:
            raise ValueError(
                f"table name {name!r} must be 'table' (with a default database) or 'database.table'"
            )
        return cls(database, table)
