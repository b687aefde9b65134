"""How many rows per second the emulator accepts in count-only mode (so it is never the bottleneck).

    python bench/emulator_count_only.py [--rows 50000] [--loads 10]

Starts `python -m tests.emulator --count-only` as a subprocess (one event loop: one core) and PUTs
pre-built bodies of ~200-byte JSON rows straight to its BE, one load at a time, for each body framing.
Reports rows/s by wall clock and rows per CPU-second of the emulator process (read from /proc), which is
the one-core figure. Prints a table and writes bench/results/emulator_count_only.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulator.launch import launch  # noqa: E402

AUTH = ("bench", "bench")


def make_rows(count: int) -> list[bytes]:
    """~200-byte JSON objects."""
    return [
        json.dumps(
            {
                "id": i,
                "user_id": i * 7919 % 100000,
                "event": "page_view",
                "url": f"https://example.com/products/{i % 977}/details?ref=campaign-{i % 13}",
                "ts": "2026-11-21 06:00:00.123456",
                "amount": round(i * 0.37, 2),
                "country": "NO",
                "flags": {"mobile": i % 2 == 0, "beta": False},
            },
            separators=(",", ":"),
        ).encode()
        for i in range(count)
    ]


def bodies(rows: list[bytes]) -> dict[str, tuple[dict[str, str], bytes]]:
    lines = b"\n".join(rows)
    csv = b"\n".join(b"%d\tpage_view\t%d" % (i, i * 7) for i in range(len(rows))) + b"\n"
    return {
        "doris json lines": ({"format": "json", "read_json_by_line": "true"}, lines),
        "doris json lines gzip": (
            {"format": "json", "read_json_by_line": "true", "compress_type": "gz"},
            gzip.compress(lines, compresslevel=1),
        ),
        "starrocks-style json array": (
            {"format": "json", "strip_outer_array": "true"},
            b"[" + b",".join(rows) + b"]",
        ),
        "csv": ({"format": "csv"}, csv),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(rows: int, loads: int) -> dict[str, Any]:
    data = make_rows(rows)
    row_bytes = sum(len(r) for r in data) / len(data)
    emulator = launch("doris", user=AUTH[0], password=AUTH[1])
    proc, be_url = emulator.process, emulator.be_url
    results = []
    try:
        with httpx.Client(auth=AUTH, timeout=120) as client:
            for name, (headers, body) in bodies(data).items():
                url = f"{be_url}/api/bench/events/_stream_load"
                client.put(url, content=body, headers=headers).raise_for_status()  # warm-up
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                for _ in range(loads):
                    reply = client.put(url, content=body, headers=headers).json()
                    if reply["Status"] != "Success" or reply["NumberLoadedRows"] != rows:
                        raise RuntimeError(f"{name}: unexpected reply {reply}")
                wall = time.perf_counter() - wall0
                cpu = cpu_seconds(proc.pid) - cpu0
                results.append(
                    {
                        "body": name,
                        "rows": rows * loads,
                        "body_MB": len(body) / 1e6,
                        "rows/s wall": rows * loads / wall,
                        "rows/s per emulator CPU-second": rows * loads / cpu,
                        "MB/s wall": len(body) * loads / wall / 1e6,
                    }
                )
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "meta": {"python": platform.python_version(), "cpus": os.cpu_count(), "argv": sys.argv[1:]},
        "row_bytes": row_bytes,
        "rows_per_load": rows,
        "loads": loads,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    report = run(args.rows, args.loads)
    print(f"rows of ~{report['row_bytes']:.0f} bytes, {args.rows} rows per load, {args.loads} loads each")
    print(f"{'body':30} {'body MB':>8} {'rows/s wall':>12} {'rows/s per CPU-s':>17} {'MB/s wall':>10}")
    for r in report["results"]:
        print(
            f"{r['body']:30} {r['body_MB']:8.1f} {r['rows/s wall']:12,.0f} "
            f"{r['rows/s per emulator CPU-second']:17,.0f} {r['MB/s wall']:10.1f}"
        )
    out = ROOT / "bench" / "results" / "emulator_count_only.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
