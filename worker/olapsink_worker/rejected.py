"""Which rows of a batch a load rejected, from the lines of the database's error log (ErrorURL).

Doris writes ``Reason: <why>. src line [<row>]; `` per rejected row; StarRocks writes
``Error: <why>. Row: <row>`` (or ``column(...)... [<row>]``). The row text is looked up among the batch's
rows as written, so each rejected row can be dead-lettered with its own offset. Lines that cannot be tied
to a row are returned too, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_ROW_PATTERNS = (
    re.compile(r"src line \[(?P<row>.*)\];?\s*$"),
    re.compile(r"\bRow: (?P<row>.*?)\s*$"),
)
#: Above this many rows a batch is not scanned for substrings (rows x lines would be too slow).
_SUBSTRING_SCAN_LIMIT = 5000


@dataclass
class Rejections:
    """Indices of rejected rows in the batch (ascending) with the reason for each, and unmatched lines."""

    reasons: dict[int, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)


def match_rejected(rows: Sequence[bytes], error_lines: Sequence[str]) -> Rejections:
    """Tie error-log lines to row indices (pure). A row text appearing several times in the batch
    matches its occurrences in order, one per error line."""
    by_text: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_text.setdefault(row.decode("utf-8", errors="replace").strip(), []).append(index)
    out = Rejections()
    for line in error_lines:
        found = _find(line, by_text, rows)
        if found is None:
            out.unmatched.append(line)
        else:
            out.reasons[found] = line
    return out


def _find(line: str, by_text: dict[str, list[int]], rows: Sequence[bytes]) -> int | None:
    for pattern in _ROW_PATTERNS:
        found = pattern.search(line)
        if found:
            candidates = by_text.get(found.group("row").strip())
            if candidates:
                return candidates.pop(0)
    if len(rows) <= _SUBSTRING_SCAN_LIMIT:
        for text, candidates in by_text.items():
            if candidates and text and text in line:
                return candidates.pop(0)
    return None
