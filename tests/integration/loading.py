"""Helpers shared by the load-path tests (test_load_*.py): a loader aimed at an emulator, rows, a SELECT."""

from __future__ import annotations

import json
from typing import Any

from olapsink_worker.load import LoaderSettings, StreamLoader
from olapsink_worker.tables import TableRef


def loader_for(emulator: Any, **settings: Any) -> StreamLoader:
    """A loader for the emulator's flavor and FEs, with short timeouts; ``settings`` override any field."""
    values: dict[str, Any] = {
        "flavor": emulator.flavor,
        "endpoints": tuple(emulator.fe_urls),
        "user": emulator.user,
        "label_prefix": "itest",
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
    }
    values.update(settings)
    return StreamLoader(LoaderSettings(**values), emulator.password)


def rows(ids: range, **extra: Any) -> list[bytes]:
    return [json.dumps({"id": i, "name": f"n{i}", **extra}).encode() for i in ids]


def select(emulator: Any, table: TableRef) -> list[tuple[Any, ...]]:
    return emulator.query(f"SELECT id, name FROM `{table.database}`.`{table.table}` ORDER BY id")
