from olapsink_worker.buffer import Batch, BatchKey, Buffers, FlushPolicy, table_tag
from olapsink_worker.tables import TableRef

KEY = BatchKey("t", 0, TableRef("db", "tbl"))


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def rows(first, last):
    return [f'{{"o":{o}}}'.encode() for o in range(first, last + 1)]


def add(buffers, first, last, key=KEY, step=1):
    offsets = list(range(first, last + 1, step))
    return buffers.add(key, [f'{{"o":{o}}}'.encode() for o in offsets], offsets.__getitem__)


def spans(batches):
    return [(b.first, b.last, b.count) for b in batches]


def test_count_trigger_cuts_exactly_at_the_limit():
    b = Buffers(FlushPolicy(max_records=10, max_bytes=10**9, interval=60), Clock())
    assert spans(add(b, 0, 24)) == [(0, 9, 10), (10, 19, 10)]
    assert b.open_first(KEY.tp) == 20
    assert spans(add(b, 25, 29)) == [(20, 29, 10)]
    assert b.open_first(KEY.tp) is None
    assert b.memory == 0


def test_bytes_trigger_cuts_once_reached():
    b = Buffers(FlushPolicy(max_records=None, max_bytes=50, interval=60), Clock())
    cut = add(b, 0, 3)  # 4 rows of 7-8 bytes: 30 bytes, below
    assert cut == []
    cut = add(b, 4, 9)
    assert spans(cut) == [(0, 9, 10)]


def test_time_trigger_uses_the_oldest_row_age():
    clock = Clock()
    b = Buffers(FlushPolicy(max_records=None, max_bytes=10**9, interval=5), clock)
    add(b, 0, 2)
    assert b.next_due() == 105.0
    clock.now = 104.9
    assert b.due(clock.now) == []
    clock.now = 105.0
    assert spans(b.due(clock.now)) == [(0, 2, 3)]
    assert b.next_due() is None


def test_sparse_offsets_make_a_batch_not_dense():
    b = Buffers(FlushPolicy(max_records=None, max_bytes=10**9, interval=5), Clock())
    add(b, 0, 8, step=2)
    (batch,) = b.cut_partitions({KEY.tp})
    assert (batch.first, batch.last, batch.count, batch.dense) == (0, 8, 5, False)
    assert batch.offset_of(1) is None


def test_replay_plan_pins_boundaries_and_skips_durable_rows():
    b = Buffers(FlushPolicy(max_records=4, max_bytes=10**9, interval=5), Clock())
    # previous owner: rows up to 12 durable, batch 13..20 maybe loaded (more than max_records!)
    b.plan_partition(KEY.tp, {table_tag(KEY.table): [(13, 20)]}, {table_tag(KEY.table): 12})
    assert b.has_plan(KEY.tp)
    cut = add(b, 10, 17)
    assert cut == []  # 10..12 skipped, 13..17 held for the replay range regardless of max_records
    cut = add(b, 18, 23)
    assert spans(cut) == [(13, 20, 8)]
    assert cut[0].replay
    assert b.open_first(KEY.tp) == 21  # back to normal batching
    assert spans(add(b, 24, 24)) == [(21, 24, 4)]


def test_replay_plan_cuts_a_normal_batch_before_the_range():
    b = Buffers(FlushPolicy(max_records=100, max_bytes=10**9, interval=5), Clock())
    b.plan_partition(KEY.tp, {table_tag(KEY.table): [(5, 7)]}, {})
    assert spans(add(b, 0, 9)) == [(0, 4, 5), (5, 7, 3)]
    # the range of another table does not touch this one
    other = BatchKey("t", 0, TableRef("db", "other"))
    assert add(b, 10, 12, key=other) == []


def test_replay_range_whose_rows_are_gone_is_dropped():
    b = Buffers(FlushPolicy(max_records=100, max_bytes=10**9, interval=5), Clock())
    b.plan_partition(KEY.tp, {table_tag(KEY.table): [(5, 7)]}, {})
    assert add(b, 8, 9) == []
    assert b.open_first(KEY.tp) == 8


def test_budget_cuts_largest_first_and_drop_forgets():
    b = Buffers(FlushPolicy(max_records=None, max_bytes=10**9, interval=5), Clock())
    small = BatchKey("t", 1, TableRef("db", "tbl"))
    add(b, 0, 99)
    add(b, 0, 1, key=small)
    total = b.memory
    cut = b.cut_largest(total // 2)
    assert [c.key for c in cut] == [KEY]
    b.drop_partitions({small.tp})
    assert b.memory == 0
    assert b.partitions() == {KEY.tp}


def test_batch_memory_counts_row_overhead():
    batch = Batch(KEY, started=0)
    batch.extend([b"abc", b"de"], 0, 1)
    assert batch.nbytes == 5
    assert batch.memory > 5
