from olapsink_worker.buffer import Batch, BatchKey, table_tag
from olapsink_worker.offsets import OffsetTracker, ReplayPlan, decode_metadata, encode_metadata
from olapsink_worker.tables import TableRef

A = TableRef("db", "a")
B = TableRef("db", "b")
TP = ("t", 0)


def batch(table, first, last):
    b = Batch(BatchKey("t", 0, table), started=0)
    b.extend([b"x"] * (last - first + 1), first, last)
    return b


def test_metadata_round_trip_and_foreign_metadata_is_ignored():
    text = encode_metadata({"aa": [(5, 9), (1, 3)]}, {"bb": 4})
    assert decode_metadata(text) == ReplayPlan({"aa": [(1, 3), (5, 9)]}, {"bb": 4})
    assert decode_metadata("").empty
    assert decode_metadata("some other tool").empty
    assert decode_metadata("v1;aa=x-y;").empty


def test_metadata_is_capped():
    text = encode_metadata({f"t{i:09d}": [(i, i + 1)] for i in range(1000)}, {})
    assert len(text) <= 3000
    assert decode_metadata(text).ranges


def test_commit_point_is_lowest_not_durable_offset():
    t = OffsetTracker()
    t.assign(TP)
    assert t.commit_point(TP, None) is None
    t.consumed(TP, 19)
    ba, bb = batch(A, 0, 9), batch(B, 5, 12)
    t.pending(ba)
    t.pending(bb)
    offset, meta = t.commit_point(TP, open_first=15)
    assert offset == 0
    plan = decode_metadata(meta)
    assert plan.ranges == {table_tag(A): [(0, 9)], table_tag(B): [(5, 12)]}
    t.mark_committed(TP, (offset, meta))
    assert t.commit_point(TP, open_first=15) is None  # unchanged

    t.durable(bb)  # B done before A: offset held back by A, B's rows skipped on replay
    offset, meta = t.commit_point(TP, open_first=15)
    assert offset == 0
    assert decode_metadata(meta).done == {table_tag(B): 12}
    t.mark_committed(TP, (offset, meta))

    t.durable(ba)
    offset, meta = t.commit_point(TP, open_first=15)
    assert offset == 15  # the open batch; 13-14 were skipped records
    assert decode_metadata(meta) == ReplayPlan()  # B's done mark is below the offset now


def test_committed_offset_never_moves_backwards():
    t = OffsetTracker()
    t.assign(TP, committed=50, metadata="")
    t.consumed(TP, 60)
    t.pending(batch(A, 40, 45))  # a replayed range below an offset someone else committed
    assert t.commit_point(TP, None) is None
