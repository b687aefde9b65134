"""Deterministic Stream Load labels.

A label names one batch: the sink (prefix), the target table and the Kafka offset ranges it holds. The
same batch always gets the same label, so a replay after a crash is answered with "Label Already Exists"
and a finished job, and is counted as done instead of loading the rows twice.

Two rules make that safe:

- Distinct batches must never share a label, or the second one would be skipped as a "duplicate" and
  lost. Names are shortened and their odd characters replaced to fit the databases' label rules, which
  can map two names onto the same text; so every label ends with a hash of the *exact* identity
  (prefix, database, table, every topic/partition/offset range).
- Every label fits both databases: ``[-_A-Za-z0-9]`` (the intersection of Doris ``[-_A-Za-z0-9:]`` and
  StarRocks ``[-\\w]``) and at most 128 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from olapsink_worker.load.dialect import Dialect
from olapsink_worker.tables import TableRef

# (topic, partition, first_offset, last_offset), both offsets inclusive.
LabelPart = tuple[str, int, int, int]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_HASH_CHARS = 16  # 64 bits: collisions inside one database's label window are not a practical concern
_SEP = "-"


def sanitize(name: str) -> str:
    """Replace runs of characters that are not ``[A-Za-z0-9_]`` by ``_`` (dots, dashes, non-ASCII)."""
    return _UNSAFE.sub("_", name).strip("_") or "x"


def label_hash(prefix: str, table: TableRef, parts: Sequence[LabelPart]) -> str:
    """A stable hex digest of the exact batch identity, insensitive to the order of ``parts``."""
    identity = "\x1f".join(
        [prefix, table.database, table.table]
        + [f"{topic}\x1e{partition}\x1e{first}\x1e{last}" for topic, partition, first, last in sorted(parts)]
    )
    return hashlib.blake2b(identity.encode("utf-8"), digest_size=_HASH_CHARS // 2).hexdigest()


def _fit(names: list[str], budget: int) -> list[str]:
    """Shorten the longest names first until their total length fits ``budget`` (each keeps >= 1 char)."""
    names = list(names)
    while sum(len(n) for n in names) > budget:
        longest = max(range(len(names)), key=lambda i: len(names[i]))
        if len(names[longest]) <= 1:
            break
        names[longest] = names[longest][:-1]
    return names


def make_label(prefix: str, table: TableRef, parts: Sequence[LabelPart], dialect: Dialect) -> str:
    """The label of a batch of ``table`` holding the offset ranges ``parts``.

    Shape: ``<prefix>-<table>-<topic>-<partition>-<first>-<last>-<hash>`` for a batch from one partition,
    ``<prefix>-<table>-<n>parts-<hash>`` for a batch merged from several. Names are shortened as needed;
    offsets and the hash are never cut. Deterministic: no clock, no randomness.
    """
    if not parts:
        raise ValueError("a label needs at least one (topic, partition, first, last) part")
    for topic, partition, first, last in parts:
        if partition < 0 or first < 0 or last < first:
            raise ValueError(f"bad offset range for {topic}[{partition}]: {first}..{last}")
    digest = label_hash(prefix, table, parts)
    if len(parts) == 1:
        topic, partition, first, last = parts[0]
        names = [sanitize(prefix), sanitize(table.table), sanitize(topic)]
        fixed = [str(partition), str(first), str(last), digest]
    else:
        names = [sanitize(prefix), sanitize(table.table)]
        fixed = [f"{len(parts)}parts", digest]
    separators = len(names) + len(fixed) - 1
    budget = dialect.max_label_length - separators - sum(len(f) for f in fixed)
    label = _SEP.join([*_fit(names, budget), *fixed])
    if not dialect.label_pattern.fullmatch(label):  # a bug here would fail every load: say so clearly
        raise AssertionError(f"built label {label!r} does not match the {dialect.name} label rule")
    return label
