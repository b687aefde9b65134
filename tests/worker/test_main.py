from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from olapsink_worker.main import GC_YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_the_start_up_heap_and_collects_less_often() -> None:
    class Cyclic:
        def __init__(self) -> None:
            self.me = self

    before = gc.get_freeze_count()
    tune_gc()
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700
    assert gc.get_freeze_count() > before
    # Cycles made after start-up are still found.
    Cyclic()
    assert gc.collect() >= 1


def test_relative_avro_schema_files_are_read_next_to_the_config_by_default(tmp_path, monkeypatch) -> None:
    from olapsink_worker.formats.avro import SCHEMA_DIR_ENV
    from olapsink_worker.main import default_avro_schema_dir

    monkeypatch.setenv(SCHEMA_DIR_ENV, "")  # so that monkeypatch restores the variable after the test
    monkeypatch.delenv(SCHEMA_DIR_ENV)
    default_avro_schema_dir(str(tmp_path / "sink.yaml"))
    assert os.environ[SCHEMA_DIR_ENV] == str(tmp_path.resolve())
    # Set by the operator (its ConfigMap mount) or by hand: kept.
    monkeypatch.setenv(SCHEMA_DIR_ENV, "/etc/olapsink/avro")
    default_avro_schema_dir(str(tmp_path / "sink.yaml"))
    assert os.environ[SCHEMA_DIR_ENV] == "/etc/olapsink/avro"
