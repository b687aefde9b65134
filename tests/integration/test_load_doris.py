"""Doris-only load paths against the emulator: direct-to-BE, group commit, two-phase commit, deletes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from olapsink_worker.load import LoadOptions
from olapsink_worker.tables import TableRef

from tests.integration.loading import loader_for, rows, select

pytestmark = pytest.mark.integration


@pytest.fixture
def table(doris_emulator: Any) -> TableRef:
    db = doris_emulator.create_database("doris")
    doris_emulator.create_table(db, "users", "UNIQUE", {"id": "INT", "name": "VARCHAR(32)"})
    return TableRef(db, "users")


def test_direct_to_be_skips_the_fe_redirect(doris_emulator: Any, table: TableRef) -> None:
    before = doris_emulator.stats()["requests"]
    with loader_for(doris_emulator, auto_redirect=False) as loader:
        for start in (0, 10):
            label = loader.label_for(table, [("users", 0, start, start + 9)])
            loader.load(table, loader.frame(rows(range(start, start + 10))), label, 10)
    after = doris_emulator.stats()["requests"]
    assert after.get("stream_load", 0) == before.get("stream_load", 0)  # no redirect at all
    assert after["be_stream_load"] - before.get("be_stream_load", 0) == 2
    assert len(select(doris_emulator, table)) == 20


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_group_commit_loads_without_a_label(doris_emulator: Any, table: TableRef, mode: str) -> None:
    options = LoadOptions(group_commit=mode)  # type: ignore[arg-type]
    with loader_for(doris_emulator, options=options) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = loader.load(table, loader.frame(rows(range(5))), label, 5)
    assert result.label != label  # the server named the batch
    assert result.status == "Success"
    if mode == "sync":
        assert len(select(doris_emulator, table)) == 5


def test_two_phase_commit_makes_rows_visible_after_the_commit(doris_emulator: Any, table: TableRef) -> None:
    before = doris_emulator.stats()["requests"]
    with loader_for(doris_emulator, two_phase_commit=True) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = loader.load(table, loader.frame(rows(range(5))), label, 5)
    assert result.txn_id is not None
    assert len(select(doris_emulator, table)) == 5
    txns = doris_emulator.txns(db=table.database, label=label)
    assert [t["state"] for t in txns] == ["VISIBLE"]
    assert doris_emulator.stats()["requests"]["be_2pc"] - before.get("be_2pc", 0) == 1


def test_precommitted_rows_stay_invisible_until_commit(doris_emulator: Any, table: TableRef) -> None:
    with loader_for(doris_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = loader.precommit(table, loader.frame(rows(range(5))), label, 5)
        assert result.txn_id is not None
        assert select(doris_emulator, table) == []
        loader.commit(table, result.txn_id)
        loader.commit(table, result.txn_id)  # idempotent: already visible counts as done
    assert len(select(doris_emulator, table)) == 5


def test_precommitted_transaction_can_be_aborted(doris_emulator: Any, table: TableRef) -> None:
    with loader_for(doris_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = loader.precommit(table, loader.frame(rows(range(5))), label, 5)
        assert result.txn_id is not None
        loader.abort(table, result.txn_id)
        loader.abort(table, result.txn_id)  # idempotent
        assert [t["state"] for t in doris_emulator.txns(db=table.database, label=label)] == ["ABORTED"]
        assert select(doris_emulator, table) == []
        # an aborted label is free again: the batch loads under the same label
        assert loader.load(table, loader.frame(rows(range(5))), label, 5).loaded_rows == 5
    assert len(select(doris_emulator, table)) == 5


def test_deletes_use_the_doris_delete_sign(doris_emulator: Any, table: TableRef) -> None:
    with loader_for(doris_emulator, options=LoadOptions(deletes=True)) as loader:
        upserts = [
            json.dumps({"id": i, "name": f"n{i}", "__DORIS_DELETE_SIGN__": 0}).encode() for i in range(3)
        ]
        loader.load(table, loader.frame(upserts), loader.label_for(table, [("users", 0, 0, 2)]), 3)
        delete = [json.dumps({"id": 1, "name": None, "__DORIS_DELETE_SIGN__": 1}).encode()]
        loader.load(table, loader.frame(delete), loader.label_for(table, [("users", 0, 3, 3)]), 1)
    assert select(doris_emulator, table) == [(0, "n0"), (2, "n2")]


def test_label_state_reports_a_loaded_label(doris_emulator: Any, table: TableRef) -> None:
    with loader_for(doris_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        assert loader.label_state(table.database, label) == "UNKNOWN"
        loader.load(table, loader.frame(rows(range(5))), label, 5)
        assert loader.label_state(table.database, label) == "VISIBLE"


def test_lost_commit_is_finished_by_label_on_retry(doris_emulator: Any, table: TableRef) -> None:
    # A 2PC load whose commit never happened (crash or lost reply): the retry with the same label finds
    # the precommitted transaction and commits it instead of waiting an hour for it to expire.
    with loader_for(doris_emulator, two_phase_commit=True) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        loader.precommit(table, loader.frame(rows(range(5))), label, 5)
        assert select(doris_emulator, table) == []
        result = loader.load(table, loader.frame(rows(range(5))), label, 5)
    assert result.duplicate
    assert len(select(doris_emulator, table)) == 5
    assert [t["state"] for t in doris_emulator.txns(db=table.database, label=label)] == ["VISIBLE"]
