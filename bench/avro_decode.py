"""Benchmark of Avro (and Protobuf) value decoding into JSON rows, per record, single core.

    python bench/avro_decode.py [--records 100000] [--repeat 3]

A ~10-field order record with logical types (decimal, timestamp-millis, date, time-millis, uuid, a
nullable double) is decoded the ways a sink can get it:

- avro registry-framed: ``AvroRegistryDecoder`` (Confluent wire format; the schema comes once from the test
  registry in tests/schema_registry over HTTP, then from the cache by id);
- avro local file: ``AvroFileDecoder`` (raw Avro, the schema from a .avsc file);
- protobuf registry-framed: ``ProtobufRegistryDecoder`` for the same data as a Protobuf message;
- json_with_schema: the JSON path's ``Decoder`` on the same data as a Kafka Connect envelope, for scale;
- fastavro alone: ``schemaless_reader`` without conversion or encoding, the floor of the Avro paths.

Each figure is the best of ``--repeat`` runs over all records, in this process's CPU time (the 2 cores are
shared, and wall time would mostly measure the neighbours): records/s per core and µs/record. Prints a
table and writes bench/results/avro_decode.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import decimal
import io
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastavro  # noqa: E402
import msgspec  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.avro import AvroSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from olapsink_worker.decode import Decoder  # noqa: E402
from olapsink_worker.formats.avro import AvroRegistryDecoder, load_schema_files  # noqa: E402
from olapsink_worker.formats.protobuf import ProtobufRegistryDecoder  # noqa: E402

from tests.schema_registry.server import SchemaRegistryServer  # noqa: E402
from tests.worker.formats.messages import order_types  # noqa: E402
from tests.worker.formats.producers import protobuf_producer  # noqa: E402

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "user_id", "type": "long"},
        {"name": "event", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "score", "type": ["null", "double"], "default": None},
    ],
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def make_records(count: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 11, 21, 5, 0, tzinfo=dt.UTC)
    return [
        {
            "id": i,
            "user_id": i * 7919 % 100000,
            "event": "page_view" if i % 3 else "purchase",
            "url": f"https://shop.example.com/p/{i % 5000}/details?ref=campaign_{i % 17}",
            "amount": decimal.Decimal(i % 100000).scaleb(-2),
            "ts": base + dt.timedelta(milliseconds=i * 37),
            "day": dt.date(2026, 11, 21) - dt.timedelta(days=i % 365),
            "at": dt.time(i % 24, i % 60, i % 60, (i % 1000) * 1000),
            "ref": uuid.UUID(int=i * 2654435761),
            "score": None if i % 10 == 0 else i / 8,
        }
        for i in range(count)
    ]


def connect_envelope(record: dict[str, Any]) -> bytes:
    """The same record as Kafka JsonConverter (schemas.enable=true) writes it."""
    fields = [
        {"field": "id", "type": "int64"},
        {"field": "user_id", "type": "int64"},
        {"field": "event", "type": "string"},
        {"field": "url", "type": "string"},
        {
            "field": "amount",
            "type": "bytes",
            "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2"},
        },
        {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
        {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
        {"field": "at", "type": "int32", "name": "org.apache.kafka.connect.data.Time"},
        {"field": "ref", "type": "string"},
        {"field": "score", "type": "double", "optional": True},
    ]
    unscaled = int(record["amount"].scaleb(2))
    at = record["at"]
    payload = {
        **record,
        "amount": base64.b64encode(unscaled.to_bytes(8, "big", signed=True)).decode(),
        "ts": (record["ts"] - _EPOCH) // dt.timedelta(milliseconds=1),
        "day": (record["day"] - dt.date(1970, 1, 1)).days,
        "at": ((at.hour * 60 + at.minute) * 60 + at.second) * 1000 + at.microsecond // 1000,
        "ref": str(record["ref"]),
    }
    return msgspec.json.encode({"schema": {"type": "struct", "fields": fields}, "payload": payload})


def protobuf_values(registry: SchemaRegistryServer, records: list[dict[str, Any]]) -> list[bytes]:
    """The records as ``olapsink.test.Order`` messages (the test message type), registry-framed."""
    order_type, _ = order_types(1)
    produce = protobuf_producer(registry, order_type, "bench-pb")
    values = []
    for r in records:
        msg = order_type(id=r["id"], city=r["event"], status=r["id"] % 2, raw=r["url"].encode())
        msg.created.FromDatetime(r["ts"])
        msg.day.year, msg.day.month, msg.day.day = r["day"].year, r["day"].month, r["day"].day
        msg.at.hours, msg.at.minutes, msg.at.seconds = r["at"].hour, r["at"].minute, r["at"].second
        msg.amount.value = int(r["amount"].scaleb(2)).to_bytes(8, "big", signed=True)
        msg.amount.scale = 2
        if r["score"] is not None:
            msg.discount = r["score"]
        msg.coupon.value = str(r["ref"])
        values.append(produce(msg))
    return values


def best_rate(fn: Callable[[bytes], Any], values: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for value in values:
            fn(value)
        best = min(best, time.process_time() - started)
    return len(values) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    records = make_records(args.records)
    parsed = fastavro.parse_schema(SCHEMA)
    registry = SchemaRegistryServer()
    try:
        client = SchemaRegistryClient({"url": registry.url})
        serialize = AvroSerializer(client, json.dumps(SCHEMA))
        ctx = SerializationContext("bench", MessageField.VALUE)
        framed = [serialize(r, ctx) for r in records]
        raw = [bytes(v[5:]) for v in framed]  # the same Avro body without the 5-byte header
        envelopes = [connect_envelope(r) for r in records]
        proto = protobuf_values(registry, records[: min(len(records), 50_000)])

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "event.avsc"
            path.write_text(json.dumps(SCHEMA))
            from_file = load_schema_files({"bench": str(path)})

        registry_decoder = AvroRegistryDecoder(client)
        protobuf_decoder = ProtobufRegistryDecoder(client)
        json_decoder = Decoder(value_format="json_with_schema")
        # The outputs agree: the Avro paths give the JSON path's row for every field the JSON path converts.
        assert registry_decoder(framed[1], "bench") == from_file(raw[1], "bench")
        via_json = json_decoder.decode(envelopes[1])
        assert via_json is not None
        assert json.loads(registry_decoder(framed[1], "bench")) == json.loads(via_json)

        def fastavro_only(value: bytes) -> Any:
            return fastavro.schemaless_reader(io.BytesIO(value), parsed, None)

        cases = [
            ("avro registry-framed -> row", lambda v: registry_decoder(v, "bench"), framed),
            ("avro local file -> row", lambda v: from_file(v, "bench"), raw),
            ("protobuf registry-framed -> row", lambda v: protobuf_decoder(v, "bench"), proto),
            ("json_with_schema -> row (JSON path)", json_decoder.decode, envelopes),
            ("fastavro schemaless_reader only", fastavro_only, raw),
        ]
        results = []
        for name, fn, values in cases:
            rate = best_rate(fn, values, args.repeat)
            results.append(
                {
                    "case": name,
                    "records": len(values),
                    "records_per_s": round(rate),
                    "us_per_record": round(1e6 / rate, 2),
                    "avg_value_bytes": round(sum(map(len, values)) / len(values), 1),
                }
            )
    finally:
        registry.close()

    print(f"{'case':40} {'records/s':>12} {'us/record':>10} {'value bytes':>12}")
    for r in results:
        print(f"{r['case']:40} {r['records_per_s']:>12,} {r['us_per_record']:>10} {r['avg_value_bytes']:>12}")
    out = ROOT / "bench" / "results" / "avro_decode.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "fastavro": fastavro.__version__,
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "clock": "process CPU time",
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
