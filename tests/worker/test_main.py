from __future__ import annotations

import gc
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
