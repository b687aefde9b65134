"""`python -m bench.peers`: the real Doris/StarRocks Kafka connectors and olapsink's worker on the same data,
broker and emulator (count-only), measured the same way; writes bench/results/peers.json and a Markdown table.

    python -m bench.peers [--records N] [--cases json,json_schema,debezium]
                          [--systems doris,olapsink-doris,starrocks,olapsink-starrocks] [--parallel 1,2]

Each case's topic has as many partitions as the machine has cores and is produced once; each system run gets
its own consumer group, its own emulator database, and `parallel` Connect tasks (tasks.max) or worker
processes. One run at a time; every JVM/worker is stopped before the next starts. Connector jars: see fetch.py
(OLAPSINK_DORIS_CONNECTOR_JAR / OLAPSINK_STARROCKS_CONNECTOR_JAR when they are not cached yet).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench.peers import cases, fetch
from bench.peers.connect import start_connect, worker_properties
from bench.peers.measure import PROBE, Result, RunFailed, measure
from bench.peers.procstat import ProcessSampler, die_with_parent
from bench.peers.report import render_markdown
from bench.peers.stack import running_emulator, running_kafka, running_mariadb, scratch_dir
from bench.peers.systems import Target, doris_connector, olapsink_manifest, starrocks_connector
from tests.devstack.kafka_broker import KafkaBroker
from tests.devstack.mariadb import MariaDB
from tests.emulator.dialects import dialect_for
from tests.emulator.handle import EmulatorHandle
from tests.emulator.tables import create_table_sql

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("doris", "olapsink-doris", "starrocks", "olapsink-starrocks")
DEFAULT_RECORDS = {"json": 1_000_000, "json_schema": 400_000, "debezium": 100_000}


def flavor_of(system: str) -> str:
    return "doris" if system.endswith("doris") else "starrocks"


@contextmanager
def system_processes(
    system: str, case: str, parallel: int, target: Target, kafka: KafkaBroker, workdir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the system under test; yields its processes (one JVM, or `parallel` olapsink workers)."""
    if system in ("doris", "starrocks"):
        plugin = fetch.ensure_plugin(system)
        props = (
            doris_connector(target, case, parallel)
            if system == "doris"
            else starrocks_connector(target, case, parallel)
        )
        props["name"] = f"{props['name']}-{uuid.uuid4().hex[:6]}"  # a fresh consumer group per run
        worker = worker_properties(kafka.bootstrap, [plugin], workdir / "offsets")
        run = start_connect(workdir, fetch.ensure_connect_libs(), worker, props)
        try:
            yield [run.process]
        finally:
            run.stop()
        return
    manifest = olapsink_manifest(
        flavor_of(system), target, kafka.bootstrap, case, f"olapsink-{uuid.uuid4().hex}"
    )
    config = workdir / "sink.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(manifest))
    env = {**os.environ, "OLAPSINK_DB_PASSWORD": target.password}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(parallel):
            with (workdir / f"worker-{i}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "olapsink_worker.main",
                            "--config",
                            str(config),
                            "--metrics-port",
                            "0",
                            "--log-format",
                            "text",
                            "--log-level",
                            "warning",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env,
                        preexec_fn=die_with_parent,
                        cwd=ROOT,
                    )
                )
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def run_one(
    system: str,
    case: str,
    parallel: int,
    values: list[bytes],
    partitions: int,
    kafka: KafkaBroker,
    emulator: EmulatorHandle,
    mariadb: MariaDB,
    workdir: Path,
) -> Result:
    db = f"bench_{uuid.uuid4().hex[:8]}"
    topic = f"peers-{case.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions)
    # Count-only emulator: nothing is stored. MariaDB still answers the Doris connector's SQL (query port);
    # the table is created there too, for the Debezium mode's information_schema lookups.
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        model = cases.case(case).model
        ddl = create_table_sql(dialect_for(flavor_of(system)), db, "events", model, cases.COLUMNS, ["id"])
        cur.execute(ddl)
    target = Target(
        fe_url=emulator.fe_url,
        user=emulator.user,
        password=emulator.password,
        database=db,
        table="events",
        topic=topic,
        query_port=mariadb.port,
    )
    probe_base = 100_000_000

    def produce_probe(n: int) -> None:
        kafka.produce(topic, list(cases.values(case, PROBE, probe_base + PROBE * n)))

    with system_processes(system, case, parallel, target, kafka, workdir) as procs:
        samplers = [ProcessSampler(p.pid) for p in procs]
        return measure(
            system=system,
            case=case,
            parallel=parallel,
            emulator=emulator,
            db=db,
            records=len(values),
            value_bytes=sum(map(len, values)),
            produce_all=lambda: kafka.produce(topic, values),
            produce_probe=produce_probe,
            samplers=lambda: samplers,
            alive=lambda: all(p.poll() is None for p in procs),
        )


def machine() -> dict[str, Any]:
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "?",
        "kafka_connect": fetch.CONNECT_VERSION,
        "doris_connector": fetch.DORIS.version,
        "starrocks_connector": fetch.STARROCKS.version,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    p.add_argument("--records", type=int, default=None, help="records per case (default: per-case sizes)")
    p.add_argument("--cases", default=",".join(cases.CASES))
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--parallel", default=f"1,{os.cpu_count() or 1}")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peers.json")
    p.add_argument(
        "--store",
        action="store_true",
        help="emulator stores rows in MariaDB instead of counting them (the Doris connector's Debezium mode "
        "needs the FE SQL API, which count-only mode does not serve)",
    )
    p.add_argument(
        "--update", action="store_true", help="keep the results already in --out that this run does not redo"
    )
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and configs here")
    args = p.parse_args(argv)
    chosen_cases = [cases.case(c).name for c in args.cases.split(",")]
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown systems {unknown}: use {', '.join(SYSTEMS)}")
    parallels = sorted({int(x) for x in args.parallel.split(",")})
    partitions = max(parallels)
    results: list[Result] = []
    failures: list[str] = []
    with ExitStack() as stack:
        work = stack.enter_context(scratch_dir(args.workdir))
        kafka = stack.enter_context(running_kafka(work))
        mariadb = stack.enter_context(running_mariadb(work))
        emulators = {
            f: stack.enter_context(running_emulator(f, mariadb, count_only=not args.store))
            for f in sorted({flavor_of(s) for s in systems})
        }
        for case in chosen_cases:
            values = list(cases.values(case, args.records or DEFAULT_RECORDS[case]))
            for system in systems:
                for parallel in parallels:
                    label = f"{system} {case} x{parallel}"
                    print(f"{label}: running ({len(values)} records) ...", file=sys.stderr, flush=True)
                    began = time.monotonic()
                    try:
                        result = run_one(
                            system,
                            case,
                            parallel,
                            values,
                            partitions,
                            kafka,
                            emulators[flavor_of(system)],
                            mariadb,
                            work / f"{system}-{case}-{parallel}",
                        )
                    except (RunFailed, fetch.FetchError, OSError) as exc:
                        failures.append(f"{label}: {exc}")
                        print(f"{label}: FAILED: {exc}", file=sys.stderr, flush=True)
                        continue
                    results.append(result)
                    took = time.monotonic() - began
                    print(
                        f"{label}: {result.records_per_s:.0f} rec/s ({took:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    command = "python -m bench.peers " + " ".join(argv if argv is not None else sys.argv[1:])
    doc: dict[str, Any] = {"commands": [command], "machine": machine(), "partitions": partitions}
    rows = [{**r.as_dict(), "sink": "mariadb" if args.store else "count-only"} for r in results]
    if args.update and args.out.exists():
        old = json.loads(args.out.read_text())
        redone = {(r["system"], r["case"], r["parallel"]) for r in rows}
        rows = [r for r in old["results"] if (r["system"], r["case"], r["parallel"]) not in redone] + rows
        doc["commands"] = [*old.get("commands", []), command]
    doc["results"] = rows
    doc["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(render_markdown(doc))
    return 1 if failures else 0
