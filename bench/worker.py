"""End-to-end throughput of one olapsink-worker process: real Kafka → worker → emulator (count-only).

    python bench/worker.py [--records 1000000] [--envelope-records 300000] [--cases a,b,c]

For each case it produces a data set to a fresh topic of the real broker (OLAPSINK_KAFKA_BOOTSTRAP, or
one started from the dev stack), then measures on the same data:

- **bare**: a plain confluent-kafka batch consumer (``consume(10000)``, same fetch settings) reading
  every record and doing nothing with it: the ceiling a Python consumer process can reach here;
- **worker**: ``olapsink-worker --config`` as its own process, loading into the Doris emulator in
  count-only mode (framing checked, rows counted, nothing stored). The clock runs from the first record
  consumed to the moment every record is reported loaded by ``/metrics`` (``olapsink_records_loaded``),
  i.e. durable, not merely read.

Cases: ``passthrough-1p`` / ``passthrough-64p``: ~200-byte JSON values passed through; ``envelope-1p``:
JsonConverter schema envelopes with Date/Timestamp/Decimal fields, converted per record;
``exactly-once-1p`` / ``exactly-once-8p``: the passthrough data with ``deliveryGuarantee: exactly_once``
(precommit, synchronous precommit mark, commit per batch; compare with ``passthrough-1p`` and
``at-least-once-8p``, the same data on 8 partitions at-least-once). Reports
records/s, MB/s (value bytes), peak RSS (VmHWM), CPU seconds, and the worker/bare ratio. Prints a table
and writes bench/results/worker.json. Bodies are not compressed (compression: none) so that the numbers
are the worker's, not zlib's; the memory budget is the spec default (256 MiB).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from emulator_count_only import AUTH, cpu_seconds, make_rows  # noqa: E402

from tests.emulator.launch import launch  # noqa: E402

BUDGET = 256 * 1024 * 1024
#: The worker's own fetch settings (olapsink_worker.consumer.consumer_config), so that the bare consumer is
#: measured on the same footing.
FETCH = {
    "fetch.max.bytes": 52428800,
    "max.partition.fetch.bytes": 10485760,
    "fetch.queue.backoff.ms": 10,
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 65536,
}


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU-seconds per thread name of a process (Python threads, librdkafka's rdk:* threads)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        name = re.sub(r"[0-9]+$", "", comm).rstrip(":/_-") or comm
        if task.name == str(pid):
            name = "main (the loop)"
        elif name.startswith("python"):
            name = "other Python threads (loads, metrics)"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def box_busy_seconds() -> float:
    """CPU-seconds all processes of the machine used so far (/proc/stat): the broker, the emulator, the
    worker and whatever else runs on the box share the same cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def envelope_rows(count: int) -> list[bytes]:
    """JsonConverter records with schemas: an int, a string, a Date, a Timestamp and a Decimal(10,2)."""
    schema = {
        "type": "struct",
        "name": "bench.Order",
        "optional": False,
        "fields": [
            {"field": "id", "type": "int64", "optional": False},
            {"field": "customer", "type": "string", "optional": True},
            {"field": "day", "type": "int32", "optional": True, "name": "org.apache.kafka.connect.data.Date"},
            {
                "field": "ts",
                "type": "int64",
                "optional": True,
                "name": "org.apache.kafka.connect.data.Timestamp",
            },
            {
                "field": "amount",
                "type": "bytes",
                "optional": True,
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2"},
            },
        ],
    }
    out = []
    for i in range(count):
        unscaled = (i * 37) % 10_000_000
        payload = {
            "id": i,
            "customer": f"c{i % 5000}",
            "day": 19000 + i % 365,
            "ts": 1_700_000_000_000 + i,
            "amount": base64.b64encode(unscaled.to_bytes(4, "big", signed=True)).decode(),
        }
        out.append(json.dumps({"schema": schema, "payload": payload}, separators=(",", ":")).encode())
    return out


def broker_bootstrap() -> tuple[str, Any]:
    from tests.devstack.stack import kafka_from_env, start_kafka_broker

    reused = kafka_from_env()
    if reused is not None:
        return reused.bootstrap, None
    server, broker = start_kafka_broker()
    return broker.bootstrap, server


def produce(bootstrap: str, topic: str, partitions: int, values: list[bytes]) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(60)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    for i, value in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=value, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- bare consumer (runs as a child process: python bench/worker.py --bare BOOTSTRAP TOPIC N) ------------


def bare_consumer(bootstrap: str, topic: str, total: int, tuned_gc: bool = False) -> None:
    from confluent_kafka import Consumer

    if tuned_gc:
        # The worker's own GC setting (olapsink_worker.main.tune_gc), to tell it from the worker's code.
        from olapsink_worker.main import tune_gc

        tune_gc()

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FETCH,
        }
    )
    c.subscribe([topic])
    seen = nbytes = 0
    t0 = cpu0 = 0.0
    while seen < total:
        msgs = c.consume(10000, 1.0)
        if msgs and not t0:
            t0, cpu0 = time.perf_counter(), time.process_time()
        for m in msgs:
            v = m.value()
            if v is not None:
                nbytes += len(v)
        seen += len(msgs)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # all threads: the Python loop and librdkafka's
    c.close()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "records": seen,
                "bytes": nbytes,
                "rss_mb": peak_rss_mb(os.getpid()),
                "cpu_s": cpu,
            }
        )
    )


def run_bare(bootstrap: str, topic: str, total: int, tuned_gc: bool = False) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--bare",
            bootstrap,
            topic,
            str(total),
            "tuned-gc" if tuned_gc else "plain",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bare consumer failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- worker ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metric(text: str, name: str) -> float:
    total = 0.0
    for match in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.MULTILINE):
        total += float(match.group(1))
    return total


def run_worker(
    bootstrap: str,
    fe_url: str,
    topic: str,
    total: int,
    value_format: str,
    workdir: Path,
    emulator_pid: int,
    guarantee: str = "at_least_once",
    flavor: str = "doris",
) -> dict[str, Any]:
    host, port = fe_url.split("//", 1)[1].rsplit(":", 1)
    database: dict[str, Any] = (
        {"doris": {"feHosts": [host], "httpPort": int(port), "user": AUTH[0], "database": "bench"}}
        if flavor == "doris"
        else {"starrocks": {"httpUrls": [f"{host}:{port}"], "user": AUTH[0], "database": "bench"}}
    )
    doc = {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": "DorisSink" if flavor == "doris" else "StarRocksSink",
        "metadata": {"name": f"bench-{topic.replace('_', '-')}"},
        "spec": {
            "kafka": {"bootstrapServers": bootstrap, "topics": [topic], "groupId": f"g-{topic}"},
            **database,
            "tables": [{"topic": topic, "table": "events"}],
            "buffer": {"flushIntervalMs": 1000, "memoryBudgetBytes": BUDGET},
            "load": {"compression": "none"},
            "converter": {"valueFormat": value_format},
            "deliveryGuarantee": guarantee,
        },
    }
    cfg = workdir / f"{topic}.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    mport = free_port()
    env = {**os.environ, "OLAPSINK_DB_PASSWORD": AUTH[1], "PYTHONPATH": str(ROOT)}
    log = open(workdir / f"{topic}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "olapsink_worker.main",
            "--config",
            str(cfg),
            "--metrics-port",
            str(mport),
            "--metrics-host",
            "127.0.0.1",
            "--log-format",
            "text",
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    profile = os.environ.get("BENCH_PROFILE")  # a path: sample the worker with py-spy (collapsed stacks)
    if profile:
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--threads",
                *(["--idle"] if os.environ.get("BENCH_IDLE") else []),
                # BENCH_GIL=1: only samples holding the GIL (the Python work, not waits in C or I/O)
                *(["--gil"] if os.environ.get("BENCH_GIL") else []),
                "-f",
                "raw",
                "-r",
                "250",
                "-d",
                "12",
                "-o",
                profile,
                "--pid",
                str(proc.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{mport}/metrics"
    t0 = t1 = read = load_s = loads = 0.0
    cpu0 = emu0 = box0 = 0.0
    threads0: dict[str, float] = {}
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {log.name}")
            try:
                text = httpx.get(url, timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            consumed = metric(text, "olapsink_records_consumed_total")
            loaded = metric(text, "olapsink_records_loaded_total")
            now = time.perf_counter()
            if consumed and not t0:
                t0, cpu0, emu0 = now, cpu_seconds(proc.pid), cpu_seconds(emulator_pid)
                box0 = box_busy_seconds()
                threads0 = thread_cpu_seconds(proc.pid)
            if consumed >= total and not read:
                read = now
            if loaded >= total:
                t1 = now
                loads = metric(text, "olapsink_load_duration_seconds_count")
                load_s = metric(text, "olapsink_load_duration_seconds_sum") / loads if loads else 0.0
                break
            # Each scrape costs the worker CPU (~1 ms to render, 64 partitions' gauges included, plus the
            # server thread) and a GIL switch: scrape often only where an end point is close.
            near = (not t0) or total * 0.9 <= consumed < total or loaded >= total * 0.9
            time.sleep(0.05 if near else 0.25)
        else:
            raise RuntimeError("worker did not load everything in time")
        cpu = cpu_seconds(proc.pid) - cpu0
        emulator_cpu = cpu_seconds(emulator_pid) - emu0
        box_cpu = box_busy_seconds() - box0
        threads = {k: round(v - threads0.get(k, 0.0), 2) for k, v in thread_cpu_seconds(proc.pid).items()}
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    return {
        "seconds": t1 - t0,
        "read_seconds": (read or t1) - t0,
        "records": total,
        "rss_mb": rss,
        "cpu_s": cpu,
        "emulator_cpu_s": emulator_cpu,
        "box_cpu_s": box_cpu,
        "threads_cpu_s": {k: v for k, v in sorted(threads.items(), key=lambda kv: -kv[1]) if v},
        "loads": int(loads),
        "load_ms_avg": load_s * 1000,
    }


#: name -> (value format, partitions, delivery guarantee)
CASES = {
    "passthrough-1p": ("json", 1, "at_least_once"),
    "passthrough-64p": ("json", 64, "at_least_once"),
    "envelope-1p": ("json_with_schema", 1, "at_least_once"),
    "exactly-once-1p": ("json", 1, "exactly_once"),
    "at-least-once-8p": ("json", 8, "at_least_once"),
    "exactly-once-8p": ("json", 8, "exactly_once"),
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare_consumer(sys.argv[2], sys.argv[3], int(sys.argv[4]), tuned_gc=sys.argv[5:] == ["tuned-gc"])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000, help="records per passthrough case")
    p.add_argument("--envelope-records", type=int, default=300_000, help="records of the envelope case")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument(
        "--flavor",
        choices=["doris", "starrocks"],
        default="doris",
        help="the sink kind and emulator dialect (each with its own buffer defaults)",
    )
    args = p.parse_args()

    workdir = ROOT / "bench" / "results" / "worker-run"
    workdir.mkdir(parents=True, exist_ok=True)
    bootstrap, server = broker_bootstrap()
    launched = launch(args.flavor, user=AUTH[0], password=AUTH[1])
    emulator, fe_url = launched.process, launched.fe_url
    results = []
    try:
        passthrough = make_rows(args.records)
        for name in args.cases.split(","):
            value_format, partitions, guarantee = CASES[name]
            values = passthrough if value_format == "json" else envelope_rows(args.envelope_records)
            topic = f"bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
            produce(bootstrap, topic, partitions, values)
            total = len(values)
            nbytes = sum(map(len, values))
            bare = run_bare(bootstrap, topic, total)
            bare_tuned = run_bare(bootstrap, topic, total, tuned_gc=True)
            worker = run_worker(
                bootstrap, fe_url, topic, total, value_format, workdir, emulator.pid, guarantee, args.flavor
            )
            row = {
                "case": name,
                "guarantee": guarantee,
                "flavor": args.flavor,
                "records": total,
                "value_bytes_avg": nbytes / total,
                "bare_records_s": total / bare["seconds"],
                "bare_rss_mb": bare["rss_mb"],
                "bare_cpu_s": bare["cpu_s"],
                "bare_records_per_cpu_s": total / bare["cpu_s"] if bare["cpu_s"] else None,
                "worker_records_s": total / worker["seconds"],
                "worker_MB_s": nbytes / worker["seconds"] / 1e6,
                "worker_rss_mb": worker["rss_mb"],
                "worker_cpu_s": worker["cpu_s"],
                "worker_records_per_cpu_s": total / worker["cpu_s"] if worker["cpu_s"] else None,
                # The emulator shares the cores; when its CPU seconds approach the wall time it is the limit.
                "emulator_cpu_s": worker["emulator_cpu_s"],
                "worker_wall_s": worker["seconds"],
                # Until every record was consumed (the bare consumer's end point); the rest is the last
                # loads, and the flush interval for batches no count/bytes trigger cut.
                "worker_read_s": worker["read_seconds"],
                "read_ratio_to_bare": bare["seconds"] / max(worker["read_seconds"], 1e-9),
                # Busy CPU-seconds of the whole box during the worker run (2 cores: at most 2 x wall).
                "box_cpu_s": worker["box_cpu_s"],
                # Where the worker's CPU went, by thread name (the loop is python3's main thread).
                "worker_threads_cpu_s": worker["threads_cpu_s"],
                # Loads of one partition run one after another: their mean time bounds a partition's rate.
                "loads": worker["loads"],
                "load_ms_avg": worker["load_ms_avg"],
                "load_average": os.getloadavg()[0],
                "ratio_to_bare": bare["seconds"] / worker["seconds"],
                # The same bare consumer with the worker's GC setting (tune_gc): what is left is the
                # worker's own work, not the collector's.
                "bare_tuned_gc_records_s": total / bare_tuned["seconds"],
                "bare_tuned_gc_records_per_cpu_s": total / bare_tuned["cpu_s"]
                if bare_tuned["cpu_s"]
                else None,
                "ratio_to_bare_tuned_gc": bare_tuned["seconds"] / worker["seconds"],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        emulator.terminate()
        emulator.wait(10)
        if server is not None:
            server.stop()
    report = {
        "meta": {"python": platform.python_version(), "cpus": os.cpu_count(), "argv": sys.argv[1:]},
        "memory_budget_mb": BUDGET / 2**20,
        "results": results,
    }
    out = ROOT / "bench" / "results" / "worker.json"
    out.write_text(json.dumps(report, indent=2))
    header = (
        f"{'case':<16}{'records':>9}{'bare rec/s':>12}{'worker rec/s':>14}"
        f"{'MB/s':>8}{'ratio':>7}{'RSS MB':>8}{'CPU s':>7}{'rec/CPU-s':>11}{'wall s':>8}{'emu CPU s':>10}"
        f"{'read s':>7}{'bare rec/CPU-s':>15}{'box CPU s':>10}{'loads':>6}{'load ms':>8}"
        f"{'ratio tuned-GC bare':>20}"
    )
    print(header)
    for r in results:
        print(
            f"{r['case']:<16}{r['records']:>9}{r['bare_records_s']:>12,.0f}{r['worker_records_s']:>14,.0f}"
            f"{r['worker_MB_s']:>8.1f}{r['ratio_to_bare']:>7.2f}{r['worker_rss_mb']:>8.0f}{r['worker_cpu_s']:>7.1f}"
            f"{r['worker_records_per_cpu_s'] or 0:>11,.0f}{r['worker_wall_s']:>8.1f}"
            f"{r['emulator_cpu_s']:>10.1f}{r['worker_read_s']:>7.1f}"
            f"{r['bare_records_per_cpu_s'] or 0:>15,.0f}"
            f"{r['box_cpu_s']:>10.1f}{r['loads']:>6}{r['load_ms_avg']:>8.0f}{r['ratio_to_bare_tuned_gc']:>20.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wrote {out}")


if __name__ == "__main__":
    main()
