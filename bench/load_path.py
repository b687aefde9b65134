"""Benchmark of the Stream Load path: framing, compression, labels, and whole loads into the emulator.

    python bench/load_path.py [--rows 50000] [--loads 20] [--flavor doris]

Part 1 runs in-process without I/O (framing, gzip level 1, lz4, labels). Part 2 starts the emulator in
count-only mode as a subprocess (it validates the framing and counts rows, no MariaDB) and times
`StreamLoader.load` end to end: probe to the FE, 307, PUT of the body to the BE, reply parsing. The
emulator shares the machine, so part 2 is a floor for the client, not a database figure; the client's
own CPU seconds are reported separately, and so is the emulator's (utime + stime from /proc/<pid>/stat over
the timed loads): in the worker benchmarks that CPU is taken from the worker being measured. Prints a table
and writes bench/results/load_path.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from olapsink_worker.load import LoaderSettings, LoadOptions, StreamLoader, dialect_for, make_label  # noqa: E402
from olapsink_worker.load.compression import compress  # noqa: E402
from olapsink_worker.tables import TableRef  # noqa: E402

from bench.peers.procstat import cpu_seconds  # noqa: E402
from tests.emulator.launch import launch  # noqa: E402

TABLE = TableRef("bench", "events")


def make_rows(count: int) -> list[bytes]:
    """~200-byte JSON rows, as a CDC topic would carry them."""
    return [
        json.dumps(
            {
                "id": i,
                "user_id": i * 7919 % 100000,
                "event": "page_view" if i % 3 else "purchase",
                "url": f"https://shop.example.com/p/{i % 5000}/details?ref=campaign_{i % 17}",
                "amount": round((i % 1000) * 1.37, 2),
                "ts": f"2026-11-21 05:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}",
            },
            separators=(",", ":"),
        ).encode()
        for i in range(count)
    ]


def timed(fn: Any, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def pure_part(rows: list[bytes], flavor: str) -> list[dict[str, Any]]:
    dialect = dialect_for(flavor)
    framing = dialect.framing(dialect.load_headers(LoadOptions(), "x"))
    from olapsink_worker.load import frame_rows

    body = frame_rows(rows, framing)
    mb = len(body) / 1e6
    results = []
    seconds = timed(lambda: frame_rows(rows, framing), 10)
    results.append({"step": f"frame ({framing.kind})", "MB/s": mb / seconds, "rows/s": len(rows) / seconds})
    for codec in ("gzip", "lz4"):
        out = compress(body, codec)
        seconds = timed(lambda codec=codec: compress(body, codec), 3)
        results.append(
            {
                "step": f"compress {codec}",
                "MB/s": mb / seconds,
                "rows/s": len(rows) / seconds,
                "ratio": len(out) / len(body),
            }
        )
    n = 20000
    seconds = timed(
        lambda: [
            make_label("ns_sink", TABLE, [("events", p, p * 10, p * 10 + 9)], dialect) for p in range(n)
        ],
        1,
    )
    results.append({"step": "make_label", "labels/s": n / seconds})
    return results


def load_part(rows: list[bytes], flavor: str, loads: int) -> list[dict[str, Any]]:
    emulator = launch(flavor, user="root")
    proc, fe = emulator.process, emulator.fe_url
    results = []
    try:
        for codec in ("none", "gzip", "lz4"):
            settings = LoaderSettings(
                flavor=flavor,
                endpoints=(fe,),
                user="root",
                label_prefix="bench",
                options=LoadOptions(compression=codec),
            )
            with StreamLoader(settings, "") as loader:
                body = loader.frame(rows)
                run = f"{codec}-{time.time_ns()}"
                loader.load(TABLE, body, loader.label_for(TABLE, [(run, 0, 0, 0)]), len(rows))  # warm-up
                cpu0, wall0 = time.process_time(), time.perf_counter()
                emulator_cpu0 = cpu_seconds(proc.pid)
                for i in range(loads):
                    label = loader.label_for(TABLE, [(run, 1, i * len(rows), (i + 1) * len(rows) - 1)])
                    result = loader.load(TABLE, body, label, len(rows))
                    assert result.total_rows == len(rows), result  # count-only: counted, not stored
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                emulator_cpu = cpu_seconds(proc.pid) - emulator_cpu0
            total_rows, total_mb = loads * len(rows), loads * len(body) / 1e6
            results.append(
                {
                    "step": f"load {codec}",
                    "rows/s": total_rows / wall,
                    "MB/s": total_mb / wall,
                    "ms/load": wall / loads * 1000,
                    "client rows/cpu-s": total_rows / cpu,
                    "emulator CPU ms/load": emulator_cpu / loads * 1000,
                }
            )
    finally:
        proc.terminate()
        proc.wait(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50000, help="rows per batch")
    parser.add_argument("--loads", type=int, default=20, help="timed loads per codec")
    parser.add_argument("--flavor", choices=["doris", "starrocks"], default="doris")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    row_bytes = sum(len(r) for r in rows) / len(rows)
    results = pure_part(rows, args.flavor) + load_part(rows, args.flavor, args.loads)
    print(f"{args.flavor}: {args.rows} rows/batch, {row_bytes:.0f} B/row, {args.loads} loads per codec")
    keys = ["rows/s", "MB/s", "ms/load", "client rows/cpu-s", "emulator CPU ms/load", "ratio", "labels/s"]
    print(f"{'step':<22}" + "".join(f"{k:>22}" for k in keys))
    for r in results:
        cells = "".join(f"{r[k]:>22,.2f}" if k in r else f"{'':>22}" for k in keys)
        print(f"{r['step']:<22}{cells}")
    out = ROOT / "bench" / "results" / "load_path.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "argv": sys.argv[1:]}
    out.write_text(
        json.dumps(
            {"meta": meta, "flavor": args.flavor, "row_bytes": row_bytes, "results": results}, indent=2
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
