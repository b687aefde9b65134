"""The Stream Load path: dialects (Doris, StarRocks), labels, body framing, the HTTP loader, retries.

The engine uses it like this::

    loader = StreamLoader(sink, password)
    label = loader.label_for(table, [(topic, partition, first_offset, last_offset)])
    body = loader.frame(rows)                      # rows: encoded JSON objects / CSV lines
    result = RetryPolicy.from_spec(sink.spec.errors).run(lambda: loader.load(table, body, label, len(rows)))

``load`` returns a ``LoadResult`` once the rows are durable (``duplicate`` when a replay found its label
already loaded) or raises ``RetryableLoadError``, ``RowsRejectedError`` or ``FatalSinkError``.
See docs/loading.md.
"""

from olapsink_worker.load.dialect import (
    DORIS,
    STARROCKS,
    Dialect,
    DorisDialect,
    Framing,
    LoadOptions,
    StarRocksDialect,
    dialect_for,
)
from olapsink_worker.load.framing import frame_rows
from olapsink_worker.load.labels import LabelPart, make_label
from olapsink_worker.load.loader import LoadMetrics, RowsRejectedError, StreamLoader
from olapsink_worker.load.replies import LoadResult, Outcome, Reply, classify_reply
from olapsink_worker.load.retry import RetriesExhaustedError, RetryPolicy
from olapsink_worker.load.settings import LoaderSettings

__all__ = [
    "DORIS",
    "STARROCKS",
    "Dialect",
    "DorisDialect",
    "Framing",
    "LabelPart",
    "LoadMetrics",
    "LoadOptions",
    "LoadResult",
    "LoaderSettings",
    "Outcome",
    "Reply",
    "RetriesExhaustedError",
    "RetryPolicy",
    "RowsRejectedError",
    "StarRocksDialect",
    "StreamLoader",
    "classify_reply",
    "dialect_for",
    "frame_rows",
    "make_label",
]
