"""The olapsink demo: the Doris seed's connector config, run by olapsink-worker, end to end.

    python scripts/demo.py [--rows 20000] [--keep-running]

1. starts Apache Kafka, MariaDB and the Doris Stream Load emulator (which keeps its tables in MariaDB);
2. creates the seed's table ``test_db.test_kafka_tbl`` and topic ``topic_test``;
3. produces the seed's rows ({"id":1,"city":"New York"} …) and thousands more;
4. converts the seed's ``doris-connector-sink.properties`` with ``olapsink convert`` (addresses pointed
   at the local servers, and ``value.converter.schemas.enable=false`` as the seed's FAQ advises for
   plain JSON), and runs ``olapsink-worker --config`` on the result;
5. prints the loaded rows as ``SELECT * FROM test_kafka_tbl`` would, once every row is in.

Set OLAPSINK_KAFKA_BOOTSTRAP / OLAPSINK_MARIADB to reuse servers from ``scripts/devstack.py up``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED_PROPERTIES = """\
name=test-doris-sink
connector.class=org.apache.doris.kafka.connector.DorisSinkConnector
topics=topic_test
doris.topic2table.map=topic_test:test_kafka_tbl
buffer.count.records=10000
buffer.flush.time=120
buffer.size.bytes=5000000
doris.urls=10.10.10.1
doris.http.port=8030
doris.query.port=9030
doris.user=root
doris.password=
doris.database=test_db
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
"""
SEED_ROWS = [{"id": 1, "city": "New York"}, {"id": 2, "city": "Los Angeles"}, {"id": 3, "city": "Chicago"}]
CITIES = ["Oslo", "Lagos", "Lima", "Osaka", "Quito", "Perth", "Turin", "Hanoi", "Accra", "Porto"]


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def print_table(columns: list[str], rows: list[tuple[object, ...]]) -> None:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print(line)
    for r in cells:
        print(
            "| "
            + " | ".join(v.rjust(w) if v.isdigit() else v.ljust(w) for v, w in zip(r, widths, strict=True))
            + " |"
        )
    print(line)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=20000,
        help="rows in all, the seed's three included; the seed flushes every 10000 records or after 120 s, "
        "so a count not a multiple of 10000 shows the time trigger (the rest arrives 2 minutes later)",
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the worker running until Ctrl-C")
    args = parser.parse_args()

    from tests.devstack.kafka_broker import KafkaBroker
    from tests.devstack.stack import (
        kafka_from_env,
        mariadb_from_env,
        start_kafka_broker,
        start_mariadb_server,
    )
    from tests.emulator.handle import EmulatorHandle
    from tests.emulator.server import EmulatorConfig

    stops = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        step("starting Kafka, MariaDB and the Doris Stream Load emulator")
        broker: KafkaBroker | None = kafka_from_env()
        if broker is None:
            kafka_server, broker = start_kafka_broker()
            stops.append(kafka_server.stop)
        mariadb = mariadb_from_env()
        if mariadb is None:
            mariadb_server, mariadb = start_mariadb_server()
            stops.append(mariadb_server.stop)
        emulator = EmulatorHandle(
            EmulatorConfig(
                flavor="doris",
                user="root",
                password="",
                mysql_host=mariadb.host,
                mysql_port=mariadb.port,
                mysql_user=mariadb.user,
                mysql_password=mariadb.password,
            ),
            fe_count=1,
        )
        stops.append(emulator.close)
        print(f"    Kafka {broker.bootstrap} ({broker.kind}), MariaDB {mariadb.address}")
        print(f"    Doris FE {emulator.fe_url}")

        step("creating test_db.test_kafka_tbl and topic_test")
        mariadb.create_database("test_db")
        emulator.create_table(
            "test_db", "test_kafka_tbl", "DUPLICATE", {"id": "INT", "city": "VARCHAR(64)"}, key=["id"]
        )
        topic = "topic_test"
        try:
            broker.create_topic(topic, 1)
        except Exception:  # a reused broker may have it from an earlier run: start from a clean topic
            broker.admin().delete_topics([topic])[topic].result(30)
            time.sleep(2)
            broker.create_topic(topic, 1)

        step(f"producing the seed's rows and {args.rows - len(SEED_ROWS)} more")
        more = [{"id": i, "city": CITIES[i % len(CITIES)]} for i in range(len(SEED_ROWS) + 1, args.rows + 1)]
        values = [json.dumps(r, separators=(",", ":")).encode() for r in SEED_ROWS + more]
        broker.produce(topic, values)

        step("olapsink convert doris-connector-sink.properties (the seed's, addresses pointed here)")
        fe_host, fe_port = emulator.fe_url.split("//", 1)[1].rsplit(":", 1)
        properties = (
            SEED_PROPERTIES.replace("doris.urls=10.10.10.1", f"doris.urls={fe_host}").replace(
                "doris.http.port=8030", f"doris.http.port={fe_port}"
            )
            + "value.converter.schemas.enable=false\n"
        )
        work = Path(tempfile.mkdtemp(prefix="olapsink-demo-"))
        (work / "doris-connector-sink.properties").write_text(properties)
        manifest = work / "sink.yaml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "olapsink_worker.cli",
                "convert",
                str(work / "doris-connector-sink.properties"),
                "--bootstrap-servers",
                broker.bootstrap,
                "-o",
                str(manifest),
            ],
            check=True,
        )
        print(manifest.read_text())

        step("olapsink-worker --config sink.yaml")
        env = {**os.environ, "OLAPSINK_DB_PASSWORD": "", "PYTHONPATH": str(ROOT)}
        log = open(work / "worker.log", "wb")  # noqa: SIM115 - lives as long as the worker
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "olapsink_worker.main",
                "--config",
                str(manifest),
                "--metrics-port",
                "0",
                "--metrics-host",
                "127.0.0.1",
                "--log-format",
                "text",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        started = time.monotonic()
        loaded = 0
        while loaded < args.rows:
            if worker.poll() is not None:
                print((work / "worker.log").read_text()[-3000:])
                raise SystemExit(f"the worker exited with {worker.returncode}")
            if time.monotonic() - started > 300:
                raise SystemExit(
                    f"only {loaded} of {args.rows} rows arrived in 5 minutes; see {work}/worker.log"
                )
            loaded = int(emulator.query("SELECT COUNT(*) FROM test_db.test_kafka_tbl")[0][0])
            time.sleep(0.2)
        print(
            f"    {loaded} rows loaded in {time.monotonic() - started:.1f}s (worker log: {work}/worker.log)"
        )

        step("SELECT * FROM test_db.test_kafka_tbl ORDER BY id LIMIT 10;")
        rows = emulator.query("SELECT id, city FROM test_db.test_kafka_tbl ORDER BY id LIMIT 10")
        print_table(["id", "city"], rows)
        total = emulator.query("SELECT COUNT(*), COUNT(DISTINCT id) FROM test_db.test_kafka_tbl")[0]
        print(f"{total[0]} rows in set ({total[1]} distinct ids: every record exactly once)")

        if args.keep_running:
            print("\nthe worker keeps running; produce more to topic_test, Ctrl-C to stop")
            worker.wait()
        return 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
