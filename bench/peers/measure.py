"""One measured run: the data set is produced while the system under test is running and idle.

1. Warm-up: a 100-record batch is produced and waited for, so JVM start-up, plugin scanning, the
   consumer-group join and the first connection are behind us (and not billed as throughput).
2. The clock and the CPU reading start; the whole data set is produced (pre-built values, as fast as the
   producer goes); they stop when every record is visible. records/s = records / that time.
3. Three more 100-record batches, each timed from the producer's ack to the rows being visible: the
   "last record to visible" latency (median).

"Visible" = counted by the emulator (rows count at commit) and no transaction of the run's database still
pending (redundant since the emulator counts 2PC rows at commit, kept as a second check).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.peers.procstat import ProcessSampler
from tests.emulator.handle import EmulatorHandle

POLL = 0.05
PROBE = 100


@dataclass(frozen=True)
class Result:
    system: str
    case: str
    parallel: int
    records: int
    value_bytes: int
    seconds: float
    records_per_s: float
    mb_per_s: float
    cpu_s_per_million: float
    peak_rss_mb: float
    visible_latency_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunFailed(RuntimeError):
    pass


def visible_rows(emulator: EmulatorHandle) -> int:
    return int(emulator.stats()["rows"])


def pending_txns(emulator: EmulatorHandle, db: str) -> int:
    """Loads not yet visible (Doris 2PC precommitted, StarRocks prepared)."""
    return sum(1 for t in emulator.txns(db=db) if t["state"] not in ("VISIBLE", "ABORTED", "COMMITTED"))


def wait_visible(
    emulator: EmulatorHandle, db: str, target_rows: int, alive: Callable[[], bool], timeout: float
) -> float:
    """Poll until `target_rows` rows are counted and no transaction of `db` is pending; return when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if visible_rows(emulator) >= target_rows and pending_txns(emulator, db) == 0:
            return time.perf_counter()
        if not alive():
            raise RunFailed("the system's process exited before every row was visible")
        time.sleep(POLL)
    raise RunFailed(f"only {visible_rows(emulator)} of {target_rows} rows visible after {timeout:.0f} s")


def measure(
    *,
    system: str,
    case: str,
    parallel: int,
    emulator: EmulatorHandle,
    db: str,
    records: int,
    value_bytes: int,
    produce_all: Callable[[], object],
    produce_probe: Callable[[int], None],
    samplers: Callable[[], list[ProcessSampler]],
    alive: Callable[[], bool],
    timeout: float = 600.0,
) -> Result:
    def cpu_now() -> float:
        total = 0.0
        for s in samplers():
            s.sample()
            total += s.cpu
        return total

    def probe(n: int, wait: float) -> float:
        before = visible_rows(emulator)
        produce_probe(n)
        acked = time.perf_counter()
        return wait_visible(emulator, db, before + PROBE, alive, wait) - acked

    probe(0, 180.0)  # warm-up
    before = visible_rows(emulator)
    t0, cpu0 = time.perf_counter(), cpu_now()
    produce_all()
    end = wait_visible(emulator, db, before + records, alive, timeout)
    cpu = cpu_now() - cpu0
    seconds = end - t0
    latencies = [probe(n, 120.0) for n in (1, 2, 3)]
    peak = sum(s.peak_rss for s in samplers())
    return Result(
        system=system,
        case=case,
        parallel=parallel,
        records=records,
        value_bytes=value_bytes,
        seconds=round(seconds, 3),
        records_per_s=round(records / seconds, 1),
        mb_per_s=round(value_bytes / seconds / 1e6, 3),
        cpu_s_per_million=round(cpu / records * 1e6, 2),
        peak_rss_mb=round(peak / 2**20, 1),
        visible_latency_s=round(statistics.median(latencies), 3),
    )
