"""One measured run: a system consumes a pre-produced topic into the count-only emulator.

The clock and the CPU reading start when the first rows are visible (so JVM start-up, plugin scanning and
the consumer-group join are not billed as throughput) and stop when every record is visible. Then, with
the system idle but running, small batches are produced and the time from the producer's ack to the rows
being visible is taken: the "last record to visible" latency.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.peers.procstat import ProcessSampler
from tests.devstack.kafka_broker import KafkaBroker
from tests.emulator.handle import EmulatorHandle

POLL = 0.1


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
    """Loads not yet visible (Doris 2PC precommitted, StarRocks prepared): rows counted but not committed."""
    return sum(1 for t in emulator.txns(db=db) if t["state"] not in ("VISIBLE", "ABORTED", "COMMITTED"))


def wait_visible(
    emulator: EmulatorHandle,
    db: str,
    target_rows: int,
    alive: Callable[[], bool],
    timeout: float,
    on_first: Callable[[int], None] | None = None,
    first_timeout: float = 90.0,
) -> float:
    """Poll until `target_rows` rows are counted and no transaction of `db` is still pending; return when."""
    deadline = time.monotonic() + timeout
    first_seen = False
    baseline = visible_rows(emulator)
    while time.monotonic() < deadline:
        rows = visible_rows(emulator)
        if not first_seen and rows > baseline:
            first_seen = True
            if on_first is not None:
                on_first(rows)
        if rows >= target_rows and pending_txns(emulator, db) == 0:
            return time.perf_counter()
        if not alive():
            raise RunFailed("the system's process exited before every row was visible")
        if not first_seen and time.monotonic() > deadline - timeout + first_timeout:
            raise RunFailed(f"no row visible after {first_timeout:.0f} s")
        time.sleep(POLL)
    raise RunFailed(f"only {visible_rows(emulator)} of {target_rows} rows visible after {timeout:.0f} s")


def measure(
    *,
    system: str,
    case: str,
    parallel: int,
    kafka: KafkaBroker,
    emulator: EmulatorHandle,
    db: str,
    topic: str,
    records: int,
    value_bytes: int,
    samplers: Callable[[], list[ProcessSampler]],
    alive: Callable[[], bool],
    probe_values: Callable[[int], list[bytes]],
    timeout: float = 600.0,
) -> Result:
    base = visible_rows(emulator)
    start: dict[str, float] = {}

    def cpu_now() -> float:
        total = 0.0
        for s in samplers():
            s.sample()
            total += s.cpu
        return total

    def on_first(rows: int) -> None:
        start.update(t=time.perf_counter(), cpu=cpu_now(), rows=rows - base)

    end = wait_visible(emulator, db, base + records, alive, timeout, on_first)
    cpu_end = cpu_now()
    if not start:
        raise RunFailed("rows became visible between two polls; run more records")
    counted = records - start["rows"]
    seconds = end - start["t"]
    if counted <= 0 or seconds <= 0:
        raise RunFailed("every record was visible in the first poll; run more records")
    latencies = []
    for probe in range(3):
        before = visible_rows(emulator)
        batch = probe_values(probe)
        kafka.produce(topic, batch)
        acked = time.perf_counter()
        latencies.append(wait_visible(emulator, db, before + len(batch), alive, 120.0) - acked)
    peak = sum(s.peak_rss for s in samplers())
    return Result(
        system=system,
        case=case,
        parallel=parallel,
        records=records,
        value_bytes=value_bytes,
        seconds=round(seconds, 3),
        records_per_s=round(counted / seconds, 1),
        mb_per_s=round(value_bytes * counted / records / seconds / 1e6, 3),
        cpu_s_per_million=round((cpu_end - start["cpu"]) / counted * 1e6, 2),
        peak_rss_mb=round(peak / 2**20, 1),
        visible_latency_s=round(statistics.median(latencies), 3),
    )
