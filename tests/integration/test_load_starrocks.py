"""StarRocks-only load paths against the emulator: body framings, primary-key deletes, label state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from olapsink_worker.load import LoadOptions, RetryPolicy, RowsRejectedError
from olapsink_worker.tables import TableRef

from tests.integration.loading import loader_for, select

pytestmark = pytest.mark.integration


@pytest.fixture
def table(starrocks_emulator: Any) -> TableRef:
    db = starrocks_emulator.create_database("sr")
    starrocks_emulator.create_table(db, "users", "PRIMARY", {"id": "INT", "name": "VARCHAR(32)"})
    return TableRef(db, "users")


def test_json_array_is_the_default_body(starrocks_emulator: Any, table: TableRef) -> None:
    with loader_for(starrocks_emulator) as loader:
        body = loader.frame([b'{"id":1,"name":"a"}', b'{"id":2,"name":"b"}'])
        assert body.startswith(b"[")
        loader.load(table, body, loader.label_for(table, [("users", 0, 0, 1)]), 2)
    assert select(starrocks_emulator, table) == [(1, "a"), (2, "b")]


def test_json_lines_without_strip_outer_array(starrocks_emulator: Any, table: TableRef) -> None:
    options = LoadOptions(properties={"strip_outer_array": "false"})
    with loader_for(starrocks_emulator, options=options) as loader:
        body = loader.frame([b'{"id":1,"name":"a"}', b'{"id":2,"name":"b"}'])
        assert body == b'{"id":1,"name":"a"}\n{"id":2,"name":"b"}'
        loader.load(table, body, loader.label_for(table, [("users", 0, 0, 1)]), 2)
    assert select(starrocks_emulator, table) == [(1, "a"), (2, "b")]


def test_csv_with_a_custom_row_delimiter(starrocks_emulator: Any, table: TableRef) -> None:
    options = LoadOptions(format="csv", properties={"column_separator": "|", "row_delimiter": "\\x02"})
    with loader_for(starrocks_emulator, options=options) as loader:
        body = loader.frame([b"1|a", b"2|b"])
        assert body == b"1|a\x022|b\x02"
        loader.load(table, body, loader.label_for(table, [("users", 0, 0, 1)]), 2)
    assert select(starrocks_emulator, table) == [(1, "a"), (2, "b")]


def test_op_column_deletes_from_a_primary_key_table(starrocks_emulator: Any, table: TableRef) -> None:
    with loader_for(starrocks_emulator) as loader:
        upserts = [json.dumps({"id": i, "name": f"n{i}", "__op": 0}).encode() for i in range(3)]
        loader.load(table, loader.frame(upserts), loader.label_for(table, [("users", 0, 0, 2)]), 3)
        delete = [json.dumps({"id": 1, "__op": 1}).encode()]
        loader.load(table, loader.frame(delete), loader.label_for(table, [("users", 0, 3, 3)]), 1)
    assert select(starrocks_emulator, table) == [(0, "n0"), (2, "n2")]


def test_label_state_and_replay(starrocks_emulator: Any, table: TableRef) -> None:
    with loader_for(starrocks_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 0)])
        assert loader.label_state(table.database, label) == "UNKNOWN"
        loader.load(table, loader.frame([b'{"id":1,"name":"a"}']), label, 1)
        assert loader.label_state(table.database, label) == "VISIBLE"
        assert loader.load(table, loader.frame([b'{"id":1,"name":"a"}']), label, 1).duplicate


def batch(ids: range) -> list[bytes]:
    return [json.dumps({"id": i, "name": f"n{i}"}).encode() for i in ids]


def test_transaction_rows_stay_invisible_until_commit(starrocks_emulator: Any, table: TableRef) -> None:
    with loader_for(starrocks_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        assert (result.status, result.loaded_rows) == ("PREPARED", 5)
        assert select(starrocks_emulator, table) == []
        assert loader.label_state(table.database, label) == "PREPARED"
        loader.commit(table, label=label)
        loader.commit(table, label=label)  # idempotent
        assert len(select(starrocks_emulator, table)) == 5
        # a replay of the committed batch is recognised
        assert loader.precommit(table, loader.frame(batch(range(5))), label, 5).duplicate


def test_transaction_abort_frees_the_label(starrocks_emulator: Any, table: TableRef) -> None:
    with loader_for(starrocks_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        loader.abort(table, label=label)
        loader.abort(table, label=label)  # idempotent
        assert select(starrocks_emulator, table) == []
        loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        loader.commit(table, label=label)
    assert len(select(starrocks_emulator, table)) == 5


def test_a_prepared_transaction_is_handed_back_not_loaded_twice(
    starrocks_emulator: Any, table: TableRef
) -> None:
    with loader_for(starrocks_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        again = loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        assert again.status == "PREPARED"
        loader.commit(table, label=label)
    assert len(select(starrocks_emulator, table)) == 5


def test_transaction_with_rejected_rows_is_rolled_back(starrocks_emulator: Any, table: TableRef) -> None:
    body = [b'{"id":1,"name":"ok"}', b'{"id":"x","name":"bad"}']
    options = LoadOptions(properties={"strict_mode": "true"})
    with loader_for(starrocks_emulator, options=options) as loader:
        label = loader.label_for(table, [("users", 0, 0, 1)])
        with pytest.raises(RowsRejectedError) as caught:
            loader.precommit(table, loader.frame(body), label, 2)
        assert caught.value.filtered_rows == 1
        assert loader.label_state(table.database, label) == "ABORTED"
    assert select(starrocks_emulator, table) == []


def test_transaction_load_dropped_is_rolled_back_and_retried(
    starrocks_emulator: Any, table: TableRef
) -> None:
    starrocks_emulator.inject_fault("drop", times=1, op="load", db=table.database)
    rollbacks = starrocks_emulator.stats()["requests"].get("txn_rollback", 0)
    with loader_for(starrocks_emulator) as loader:
        label = loader.label_for(table, [("users", 0, 0, 4)])
        result = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05).run(
            lambda: loader.precommit(table, loader.frame(batch(range(5))), label, 5)
        )
        assert result.status == "PREPARED"
        loader.commit(table, label=label)
    assert len(select(starrocks_emulator, table)) == 5
    # the dropped attempt's open transaction was rolled back before the retry began afresh
    assert starrocks_emulator.stats()["requests"]["txn_rollback"] - rollbacks == 1
