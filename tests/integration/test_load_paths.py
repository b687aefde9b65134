"""The Stream Load path against the emulator, both dialects: rows land, replays are recognised, faults
are classified and retried. No Kafka: batches are built by hand."""

from __future__ import annotations

import random
from typing import Any

import pytest
from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.load import (
    LoaderSettings,
    LoadOptions,
    RetriesExhaustedError,
    RetryPolicy,
    RowsRejectedError,
    StreamLoader,
)
from olapsink_worker.tables import TableRef

from tests.integration.loading import loader_for, rows

pytestmark = pytest.mark.integration

COLUMNS = {"id": "INT", "name": "VARCHAR(32)"}


def fast_retries(max_retries: int = 5) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.05, rng=random.Random(0))


@pytest.fixture
def table(any_emulator: Any) -> TableRef:
    db = any_emulator.create_database("load")
    any_emulator.create_table(db, "orders", "DUPLICATE", COLUMNS)
    return TableRef(db, "orders")


def count(emulator: Any, table: TableRef) -> int:
    return int(emulator.query(f"SELECT COUNT(*) FROM `{table.database}`.`{table.table}`")[0][0])


def load_batch(loader: StreamLoader, table: TableRef, ids: range, **label: Any) -> Any:
    part = (label.get("topic", "orders"), label.get("partition", 0), ids.start, ids.stop - 1)
    return loader.load(table, loader.frame(rows(ids)), loader.label_for(table, [part]), len(ids))


def test_rows_are_visible_after_a_load_through_the_fe_redirect(any_emulator: Any, table: TableRef) -> None:
    before = any_emulator.stats()["requests"]
    with loader_for(any_emulator) as loader:
        result = load_batch(loader, table, range(0, 50))
    assert (result.status, result.loaded_rows, result.filtered_rows, result.duplicate) == (
        "Success",
        50,
        0,
        False,
    )
    assert count(any_emulator, table) == 50
    names = any_emulator.query(f"SELECT name FROM `{table.database}`.`orders` WHERE id = 7")
    assert names == [("n7",)]
    after = any_emulator.stats()["requests"]
    assert after.get("stream_load", 0) - before.get("stream_load", 0) == 1  # one FE redirect
    assert after["be_stream_load"] - before.get("be_stream_load", 0) == 1  # one body, to the BE


def test_replaying_the_same_batch_is_a_duplicate_and_loads_nothing(
    any_emulator: Any, table: TableRef
) -> None:
    with loader_for(any_emulator) as loader:
        load_batch(loader, table, range(0, 10))
        again = load_batch(loader, table, range(0, 10))
    assert again.duplicate
    assert again.status == "Label Already Exists"
    assert count(any_emulator, table) == 10


def test_a_new_loader_after_a_crash_recognises_the_loaded_batch(any_emulator: Any, table: TableRef) -> None:
    with loader_for(any_emulator) as first:
        load_batch(first, table, range(0, 10))
    with loader_for(any_emulator) as restarted:
        assert load_batch(restarted, table, range(0, 10)).duplicate
        assert not load_batch(restarted, table, range(10, 20)).duplicate
    assert count(any_emulator, table) == 20


def test_reply_lost_after_commit_is_retried_and_counted_once(any_emulator: Any, table: TableRef) -> None:
    any_emulator.inject_fault("drop_after_commit", times=1, table="orders", db=table.database)
    with loader_for(any_emulator) as loader:
        result = fast_retries().run(lambda: load_batch(loader, table, range(0, 10)))
    assert result.duplicate
    assert count(any_emulator, table) == 10


def test_dropped_connection_before_commit_is_retried(any_emulator: Any, table: TableRef) -> None:
    any_emulator.inject_fault("drop", times=1, op="stream_load", db=table.database)
    with loader_for(any_emulator) as loader:
        with pytest.raises(RetryableLoadError):
            load_batch(loader, table, range(0, 10))
        assert count(any_emulator, table) == 0
        result = load_batch(loader, table, range(0, 10))
    assert not result.duplicate
    assert count(any_emulator, table) == 10


@pytest.mark.parametrize("fault", ["http_500", "http_503", "too_many_versions"])
def test_transient_failures_then_success_with_the_retry_policy(
    any_emulator: Any, table: TableRef, fault: str
) -> None:
    any_emulator.inject_fault(fault, times=2, op="stream_load", db=table.database)
    attempts: list[int] = []
    with loader_for(any_emulator) as loader:

        def attempt() -> Any:
            attempts.append(1)
            return load_batch(loader, table, range(0, 10))

        result = fast_retries().run(attempt)
    assert result.loaded_rows == 10
    assert len(attempts) == 3
    assert count(any_emulator, table) == 10


def test_persistent_failure_exhausts_the_retry_budget(any_emulator: Any, table: TableRef) -> None:
    any_emulator.inject_fault("http_500", times=None, op="stream_load", db=table.database)
    with loader_for(any_emulator) as loader, pytest.raises(RetriesExhaustedError) as caught:
        fast_retries(max_retries=2).run(lambda: load_batch(loader, table, range(0, 10)))
    assert caught.value.attempts == 3
    assert count(any_emulator, table) == 0


def test_publish_timeout_is_durable_success(any_emulator: Any, table: TableRef) -> None:
    any_emulator.inject_fault("publish_timeout", times=1, db=table.database)
    with loader_for(any_emulator) as loader:
        result = load_batch(loader, table, range(0, 10))
    assert result.status == "Publish Timeout"
    assert not result.duplicate


def test_first_fe_down_loads_through_the_second(any_emulator: Any, table: TableRef) -> None:
    any_emulator.stop_fe(0)
    with loader_for(any_emulator) as loader:
        result = load_batch(loader, table, range(0, 10))
    assert result.loaded_rows == 10
    assert count(any_emulator, table) == 10


def test_every_fe_down_is_retryable(any_emulator: Any, table: TableRef) -> None:
    for index in range(len(any_emulator.fe_urls)):
        any_emulator.stop_fe(index)
    with loader_for(any_emulator) as loader, pytest.raises(RetryableLoadError, match="no FE answered"):
        load_batch(loader, table, range(0, 10))


def test_unreachable_be_after_the_redirect_is_retryable(any_emulator: Any, table: TableRef) -> None:
    any_emulator.inject_fault("be_unreachable", times=1, table="orders", db=table.database)
    with loader_for(any_emulator) as loader:
        with pytest.raises(RetryableLoadError, match="cannot reach"):
            load_batch(loader, table, range(0, 10))
        assert load_batch(loader, table, range(0, 10)).loaded_rows == 10


def test_unknown_table_is_fatal(any_emulator: Any, table: TableRef) -> None:
    missing = TableRef(table.database, "no_such_table")
    with loader_for(any_emulator) as loader, pytest.raises(FatalSinkError):
        load_batch(loader, missing, range(0, 10))


def test_wrong_password_is_fatal(any_emulator: Any, table: TableRef) -> None:
    settings = LoaderSettings(
        flavor=any_emulator.flavor,
        endpoints=tuple(any_emulator.fe_urls),
        user=any_emulator.user,
        label_prefix="x",
    )
    with StreamLoader(settings, "wrong") as loader, pytest.raises(FatalSinkError, match="credentials"):
        load_batch(loader, table, range(0, 1))


def test_rejected_rows_come_back_with_the_error_log(any_emulator: Any, table: TableRef) -> None:
    body = [b'{"id":1,"name":"ok"}', b'{"id":"not a number","name":"bad"}', b'{"id":3,"name":"ok"}']
    any_emulator.query("SELECT 1")
    with loader_for(any_emulator, options=LoadOptions(properties={"strict_mode": "true"})) as loader:
        label = loader.label_for(table, [("orders", 0, 0, 2)])
        with pytest.raises(RowsRejectedError) as caught:
            loader.load(table, loader.frame(body), label, 3)
    error = caught.value
    assert error.filtered_rows == 1
    assert error.error_url
    assert any("not a number" in line for line in error.rejected_rows)
    assert count(any_emulator, table) == 0  # the whole load failed: nothing half-loaded


def test_filtered_rows_within_max_filter_ratio_are_reported(any_emulator: Any, table: TableRef) -> None:
    body = [b'{"id":1,"name":"ok"}', b'{"id":"not a number","name":"bad"}', b'{"id":3,"name":"ok"}']
    options = LoadOptions(max_filter_ratio=0.5, properties={"strict_mode": "true"})
    with loader_for(any_emulator, options=options) as loader:
        result = loader.load(table, loader.frame(body), loader.label_for(table, [("orders", 0, 0, 2)]), 3)
        assert (result.loaded_rows, result.filtered_rows) == (2, 1)
        assert result.error_url
        assert any("not a number" in line for line in loader.fetch_error_rows(result.error_url))
    assert count(any_emulator, table) == 2


@pytest.mark.parametrize("compression", ["gzip", "lz4"])
def test_compressed_bodies_load(any_emulator: Any, table: TableRef, compression: str) -> None:
    with loader_for(any_emulator, options=LoadOptions(compression=compression)) as loader:  # type: ignore[arg-type]
        result = load_batch(loader, table, range(0, 200))
    assert result.loaded_rows == 200
    assert count(any_emulator, table) == 200


def test_csv_bodies_load(any_emulator: Any, table: TableRef) -> None:
    options = LoadOptions(format="csv", properties={"column_separator": ","})
    with loader_for(any_emulator, options=options) as loader:
        csv_rows = [f"{i},c{i}".encode() for i in range(5)]
        label = loader.label_for(table, [("orders", 0, 0, 4)])
        result = loader.load(table, loader.frame(csv_rows), label, 5)
    assert result.loaded_rows == 5
    assert any_emulator.query(f"SELECT name FROM `{table.database}`.`orders` WHERE id = 4") == [("c4",)]


def test_long_topic_and_table_names_still_load(any_emulator: Any) -> None:
    db = any_emulator.create_database("load")
    long_table = "t_" + "x" * 60
    any_emulator.create_table(db, long_table, "DUPLICATE", COLUMNS)
    table = TableRef(db, long_table)
    with loader_for(any_emulator, label_prefix="p" * 64) as loader:
        label = loader.label_for(table, [("cdc." + "topic" * 30, 11, 10**12, 10**12 + 9)])
        assert len(label) <= 128
        result = loader.load(table, loader.frame(rows(range(10))), label, 10)
    assert result.loaded_rows == 10


def test_concurrent_loads_of_several_tables_share_one_loader(any_emulator: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = any_emulator.create_database("load")
    tables = [TableRef(db, f"t{i}") for i in range(4)]
    for t in tables:
        any_emulator.create_table(db, t.table, "DUPLICATE", COLUMNS)
    any_emulator.inject_fault("slow:0.3", times=4, op="stream_load", db=db)
    with loader_for(any_emulator) as loader, ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [
            pool.submit(load_batch, loader, t, range(batch * 100, batch * 100 + 100))
            for t in tables
            for batch in range(3)
        ]
        results = [job.result(timeout=60) for job in jobs]
    assert sum(r.loaded_rows for r in results) == 1200
    assert [count(any_emulator, t) for t in tables] == [300, 300, 300, 300]


def test_slow_100_continue_does_not_break_the_load(any_emulator: Any, table: TableRef) -> None:
    # httpx sends the body without waiting for "100 Continue"; a BE that is slow to say it must still work
    any_emulator.inject_fault("slow_continue:0.5", times=1, db=table.database)
    with loader_for(any_emulator) as loader:
        assert load_batch(loader, table, range(0, 10)).loaded_rows == 10
