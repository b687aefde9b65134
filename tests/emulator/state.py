"""Emulator state kept in memory: transactions, their labels, expiry, error logs and counters.

Transactions move PREPARE → (PRECOMMITTED | PREPARED) → COMMITTED → VISIBLE, or to ABORTED. A label is
unique per database while its transaction is live or finished, and free again once that transaction is
ABORTED or forgotten after the retention window. Time comes from `Clock`, which tests can move forward.

A transaction's rows (`Txn.loaded`: what load replies told the client was loaded into it) are counted once,
where the transaction ends: in `stats["rows"]` when it commits, in `stats["aborted_rows"]` when it aborts.
Until then they are pending (`precommitted_rows` for PRECOMMITTED and PREPARED transactions).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tests.emulator.rows import Plan
from tests.emulator.tables import TableSchema


class TxnState(StrEnum):
    PREPARE = "PREPARE"
    PRECOMMITTED = "PRECOMMITTED"  # Doris 2PC
    PREPARED = "PREPARED"  # StarRocks transaction API
    COMMITTED = "COMMITTED"
    VISIBLE = "VISIBLE"
    ABORTED = "ABORTED"


LIVE = (TxnState.PREPARE, TxnState.PRECOMMITTED, TxnState.PREPARED)
FINISHED = (TxnState.COMMITTED, TxnState.VISIBLE)
PRECOMMITTED = (TxnState.PRECOMMITTED, TxnState.PREPARED)  # waiting for commit or abort


class Clock:
    """Monotonic seconds plus an offset that tests advance to expire labels and transactions."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset


@dataclass
class StagedLoad:
    schema: TableSchema
    plan: Plan


@dataclass
class Txn:
    txn_id: int
    db: str
    table: str
    label: str
    state: TxnState
    created: float
    deadline: float | None = None  # when a live txn is aborted by timeout
    finished_at: float | None = None
    reason: str = ""
    staged: list[StagedLoad] = field(default_factory=list)
    total: int = 0
    loaded: int = 0  # rows accepted into the transaction (set when a load reply says so)
    filtered: int = 0
    unselected: int = 0
    load_bytes: int = 0
    json_bytes: int = 0  # Content-Length summed over a StarRocks transaction's JSON loads
    seq: int = 0
    busy: bool = False  # one request at a time per StarRocks transaction label
    max_filter_ratio: float = 0.0
    options_key: Any = None
    load_options: Any = None  # the LoadOptions of the transaction's loads
    csv_carry: bytes = b""  # an unterminated last CSV row, continued by the next load
    error_url: str | None = None
    visible_at: float | None = None  # a Publish Timeout txn turns VISIBLE at this time
    precommitted_at: float | None = None  # Doris 2PC precommit (SHOW TRANSACTION's PreCommitTime)
    committed_at: float | None = None  # first COMMITTED or VISIBLE (SHOW TRANSACTION's CommitTime)

    @property
    def job_status(self) -> str:
        """ExistingJobStatus for a Label Already Exists reply."""
        return "FINISHED" if self.state in FINISHED else "RUNNING"


class Registry:
    def __init__(self, label_keep_seconds: float, precommit_timeout: float) -> None:
        self.clock = Clock()
        self.label_keep_seconds = label_keep_seconds
        self.precommit_timeout = precommit_timeout
        self._ids = itertools.count(1001)
        self.txns: dict[int, Txn] = {}
        self.labels: dict[tuple[str, str], Txn] = {}
        self.error_logs: OrderedDict[str, str] = OrderedDict()
        self.stats: Counter[str] = Counter()
        self._last_sweep = -1.0

    def begin(self, db: str, table: str, label: str, deadline: float | None = None) -> Txn:
        txn = Txn(next(self._ids), db, table, label, TxnState.PREPARE, self.clock.now(), deadline)
        self.txns[txn.txn_id] = txn
        self.labels[(db, label)] = txn
        return txn

    def running(self, db: str) -> int:
        """Transactions of `db` that began and have not finished (PREPARE, PRECOMMITTED, PREPARED)."""
        self.sweep()
        return sum(1 for t in self.txns.values() if t.db == db and t.state in LIVE)

    def lookup(self, db: str, label: str) -> Txn | None:
        """The label's latest transaction, aborted ones included (for state lookups)."""
        self.sweep()
        return self.labels.get((db, label))

    def holder(self, db: str, label: str) -> Txn | None:
        """The transaction that keeps the label in use; an aborted job's label may be used again."""
        txn = self.lookup(db, label)
        return None if txn is None or txn.state is TxnState.ABORTED else txn

    def get(self, txn_id: int) -> Txn | None:
        self.sweep()
        return self.txns.get(txn_id)

    def finish(self, txn: Txn, state: TxnState, reason: str = "") -> None:
        was = txn.state
        txn.state = state
        txn.reason = reason or txn.reason
        txn.finished_at = self.clock.now()
        if state in FINISHED and txn.committed_at is None:
            txn.committed_at = txn.finished_at
        txn.deadline = None
        txn.staged = [] if state in (TxnState.ABORTED, TxnState.VISIBLE) else txn.staged
        if state in FINISHED and was not in FINISHED:
            self.stats["rows"] += txn.loaded
        elif state is TxnState.ABORTED and was is not TxnState.ABORTED:
            self.stats["aborted_rows"] += txn.loaded

    def commit_later(self, txn: Txn) -> None:
        """COMMITTED now, VISIBLE after a later `finish` (Doris async group commit); its rows count now."""
        txn.state = TxnState.COMMITTED
        txn.committed_at = self.clock.now()
        self.stats["rows"] += txn.loaded

    def precommitted_rows(self) -> int:
        """Rows of transactions whose first phase is done (Doris PRECOMMITTED, StarRocks PREPARED)."""
        self.sweep()
        return sum(t.loaded for t in self.txns.values() if t.state in PRECOMMITTED)

    def sweep(self, force: bool = False) -> None:
        now = self.clock.now()
        if not force and now - self._last_sweep < 0.05:
            return
        self._last_sweep = now
        for txn in list(self.txns.values()):
            if txn.state in LIVE and txn.deadline is not None and now >= txn.deadline and not txn.busy:
                self.finish(txn, TxnState.ABORTED, "timeout by txn manager")
            elif txn.state is TxnState.COMMITTED and txn.visible_at is not None and now >= txn.visible_at:
                txn.state = TxnState.VISIBLE
            elif txn.finished_at is not None and now - txn.finished_at >= self.label_keep_seconds:
                del self.txns[txn.txn_id]
                if self.labels.get((txn.db, txn.label)) is txn:
                    del self.labels[(txn.db, txn.label)]

    def add_error_log(self, key: str, lines: list[tuple[str, str]]) -> None:
        self.error_logs[key] = "".join(f"Reason: {reason}. src line [{raw}]; \n" for reason, raw in lines)
        while len(self.error_logs) > 1000:
            self.error_logs.popitem(last=False)
