"""Model semantics: deletes, partial updates, sequence/merge conditions, merge_type, group commit."""

from __future__ import annotations

import time

import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import json_lines, stream_load

pytestmark = pytest.mark.integration

DORIS_JSON = {"format": "json", "read_json_by_line": "true"}
SR_JSON = {"format": "json"}


def keyed_table(e: EmulatorHandle, **kwargs: str) -> str:
    db = e.create_database()
    model = "UNIQUE" if e.flavor == "doris" else "PRIMARY"
    e.create_table(db, "t", model, {"id": "INT", "name": "VARCHAR(20)", "n": "INT"}, **kwargs)
    return db


def rows(e: EmulatorHandle, db: str) -> list[tuple[object, ...]]:
    return e.query(f"SELECT id, name, n FROM `{db}`.t ORDER BY id")


def test_doris_delete_sign_deletes_keys(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", json_lines([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]), **DORIS_JSON)

    body = json_lines(
        [{"id": 1, "__DORIS_DELETE_SIGN__": 1}, {"id": 3, "name": "c", "__DORIS_DELETE_SIGN__": 0}]
    )
    reply = stream_load(e, db, "t", body, hidden_columns="__DORIS_DELETE_SIGN__", **DORIS_JSON)

    assert reply["Status"] == "Success"
    assert rows(e, db) == [(2, "b", None), (3, "c", None)]


def test_doris_delete_sign_is_ignored_without_hidden_columns(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", '{"id": 1, "name": "a"}', **DORIS_JSON)
    stream_load(e, db, "t", '{"id": 1, "name": "a", "__DORIS_DELETE_SIGN__": 1}', **DORIS_JSON)
    assert rows(e, db) == [(1, "a", None)]


def test_starrocks_op_field_deletes_in_primary_key_tables(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", json_lines([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]), **SR_JSON)

    reply = stream_load(
        e, db, "t", json_lines([{"id": 1, "__op": 1}, {"id": 2, "name": "B", "__op": 0}]), **SR_JSON
    )

    assert reply["Status"] == "Success"
    assert rows(e, db) == [(2, "B", None)]


def test_starrocks_op_mapped_by_columns_header_in_csv(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", "1,a,1\n2,b,2\n", column_separator=",")
    stream_load(e, db, "t", "1,x,1,1\n", column_separator=",", columns="id,name,n,tmp,__op=tmp")
    assert rows(e, db) == [(2, "b", 2)]


def test_doris_merge_type_delete_and_merge(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", json_lines([{"id": i, "name": str(i)} for i in range(1, 5)]), **DORIS_JSON)

    stream_load(e, db, "t", '{"id": 1}', merge_type="DELETE", **DORIS_JSON)
    body = json_lines([{"id": 2, "name": "x", "gone": 1}, {"id": 3, "name": "y", "gone": 0}])
    reply = stream_load(e, db, "t", body, merge_type="MERGE", delete="gone=1", **DORIS_JSON)

    assert reply["Status"] == "Success"
    assert rows(e, db) == [(3, "y", None), (4, "4", None)]


def test_delete_is_refused_on_duplicate_tables(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    reply = stream_load(e, db, "t", '{"id": 1}', merge_type="DELETE", **DORIS_JSON)
    assert reply["Status"] == "Fail"
    assert "only supported in unique tables" in reply["Message"]


def test_partial_update_changes_only_listed_columns(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = keyed_table(e)
    json_opts = DORIS_JSON if e.flavor == "doris" else SR_JSON
    stream_load(e, db, "t", '{"id": 1, "name": "a", "n": 10}', **json_opts)
    flag = "partial_columns" if e.flavor == "doris" else "partial_update"

    reply = stream_load(
        e,
        db,
        "t",
        json_lines([{"id": 1, "n": 11}, {"id": 2, "n": 20}]),
        columns="id,n",
        **{flag: "true"},
        **json_opts,
    )

    assert reply["Status"] == "Success", reply
    assert rows(e, db) == [(1, "a", 11), (2, None, 20)]


def test_doris_partial_update_in_strict_mode_rejects_new_keys(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", '{"id": 1, "name": "a", "n": 10}', **DORIS_JSON)
    reply = stream_load(
        e,
        db,
        "t",
        json_lines([{"id": 1, "n": 11}, {"id": 2, "n": 20}]),
        columns="id,n",
        partial_columns="true",
        strict_mode="true",
        **DORIS_JSON,
    )
    assert reply["Status"] == "Fail" and reply["NumberFilteredRows"] == 1
    assert rows(e, db) == [(1, "a", 10)]


def test_partial_update_needs_a_keyed_table(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT", "n": "INT"})
    flag = "partial_columns" if e.flavor == "doris" else "partial_update"
    reply = stream_load(e, db, "t", '{"id": 1, "n": 1}', columns="id,n", format="json", **{flag: "true"})
    assert reply["Status"] == "Fail"
    assert "partial update" in reply["Message"]


def test_doris_sequence_column_keeps_the_highest_version(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e, sequence_col="n")
    body = json_lines([{"id": 1, "name": "new", "n": 5}, {"id": 1, "name": "old", "n": 3}])
    stream_load(e, db, "t", body, **{"function_column.sequence_col": "n"}, **DORIS_JSON)
    # A delete with a lower sequence value does not delete a newer row.
    stream_load(
        e,
        db,
        "t",
        '{"id": 1, "n": 4, "__DORIS_DELETE_SIGN__": 1}',
        hidden_columns="__DORIS_DELETE_SIGN__",
        **DORIS_JSON,
    )
    assert rows(e, db) == [(1, "new", 5)]


def test_starrocks_merge_condition_skips_older_versions(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = keyed_table(e)
    stream_load(e, db, "t", '{"id": 1, "name": "v5", "n": 5}', **SR_JSON)
    stream_load(e, db, "t", '{"id": 1, "name": "v3", "n": 3}', merge_condition="n", **SR_JSON)
    assert rows(e, db) == [(1, "v5", 5)]


def test_doris_group_commit_sync_and_async(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)

    sync = stream_load(e, db, "t", '{"id": 1}', group_commit="sync_mode", **DORIS_JSON)
    assert sync["GroupCommit"] is True and "TwoPhaseCommit" not in sync and "BeginTxnTimeMs" not in sync
    assert sync["Label"].startswith("group_commit_")
    assert rows(e, db) == [(1, None, None)]

    stream_load(e, db, "t", '{"id": 2}', group_commit="async_mode", **DORIS_JSON)
    assert len(rows(e, db)) == 1  # not visible until the group's internal commit
    deadline = time.monotonic() + 10
    while len(rows(e, db)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(rows(e, db)) == 2


def test_doris_group_commit_with_label_is_refused(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    reply = stream_load(e, db, "t", '{"id": 1}', group_commit="sync_mode", label="x", **DORIS_JSON)
    assert reply["Status"] == "Fail"
    assert "label and group_commit can't be set at the same time" in reply["Message"]


def test_doris_group_commit_is_not_used_with_two_phase_commit(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = keyed_table(e)
    reply = stream_load(
        e, db, "t", '{"id": 1}', group_commit="async_mode", two_phase_commit="true", **DORIS_JSON
    )
    assert reply["TwoPhaseCommit"] == "true" and "GroupCommit" not in reply
