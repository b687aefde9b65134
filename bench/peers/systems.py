"""Each system's configuration for one run (pure: the target and the case in, .properties or YAML maps out).

Settings left at each connector's defaults except where a run could not finish or be timed without a change:
- Doris: `buffer.flush.time=1` (default 120 s would make "last record to visible" a 2-minute constant) and
  `sink.properties.compress_type=` (empty; the 26.0.0 default gzip is kept for the `gzip` variant only,
  since the emulator reads both). Buffer count/bytes stay at 50 000 records / 100 MiB. Loads go through
  the FE's 307 (`auto.redirect` default), now that the emulator's FE closes the connection after a redirect
  as a real FE does (docs/fidelity.md, finding 1).
- StarRocks: `sink.properties.strip_outer_array=true` (every doc example sets it; without it StarRocks rejects
  the JSON array body the SDK sends). Flush interval stays at its 1 s default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.peers.fetch import DORIS, STARROCKS

Props = dict[str, str | int | bool]
ADD_OP_FIELD = "com.starrocks.connector.kafka.transforms.AddOpFieldForDebeziumRecord"


@dataclass(frozen=True)
class Target:
    """Where a run loads: the emulator's FE, its MySQL-protocol stand-in, the database and table."""

    fe_url: str
    user: str
    password: str
    database: str
    table: str
    topic: str
    query_port: int = 9030  # Doris only: the FE MySQL port (the emulator's `query_port`, or MariaDB's)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"FE URL {url!r} needs a host and a port")
    return parts.hostname, parts.port


def converter_props(case: str) -> Props:
    """JsonConverter settings: schemaless JSON, or the schema envelope (json_schema and debezium)."""
    schemas = case in ("json_schema", "debezium")
    return {
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": schemas,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    }


def doris_connector(
    target: Target,
    case: str,
    tasks: int = 1,
    *,
    exactly_once: bool = False,
    gzip: bool = False,
    auto_redirect: bool = True,
) -> Props:
    host, port = _host_port(target.fe_url)
    props: Props = {
        "name": f"doris-{case}",
        "connector.class": DORIS.connector_class,
        "tasks.max": tasks,
        "topics": target.topic,
        "doris.topic2table.map": f"{target.topic}:{target.table}",
        "doris.urls": host,
        "doris.http.port": port,
        "doris.query.port": target.query_port,
        "doris.user": target.user,
        "doris.password": target.password,
        "doris.database": target.database,
        "buffer.flush.time": 1,
        # Explicit, as the default is: otherwise the connector asks the FE's _schema API whether the table is
        # UNIQUE (to turn 2PC off), which the count-only emulator cannot answer.
        "enable.2pc": True,
        "jmx": False,
        **converter_props(case),
    }
    if not gzip:
        props["sink.properties.compress_type"] = ""
    if not auto_redirect:
        props["auto.redirect"] = False
    if exactly_once:
        props["delivery.guarantee"] = "exactly_once"
    if case == "debezium":
        props["converter.mode"] = "debezium_ingestion"
        props["enable.delete"] = True
    return props


def starrocks_connector(target: Target, case: str, tasks: int = 1) -> Props:
    host, port = _host_port(target.fe_url)
    props: Props = {
        "name": f"starrocks-{case}",
        "connector.class": STARROCKS.connector_class,
        "tasks.max": tasks,
        "topics": target.topic,
        "starrocks.topic2table.map": f"{target.topic}:{target.table}",
        "starrocks.http.url": f"{host}:{port}",
        "starrocks.username": target.user,
        "starrocks.password": target.password,
        "starrocks.database.name": target.database,
        "sink.properties.strip_outer_array": True,
        **converter_props(case),
    }
    if case == "debezium":
        # The StarRocks docs' Debezium recipe: unwrap the envelope, keep deletes as rows with __op.
        props.update(
            {
                "transforms": "addfield,unwrap",
                "transforms.addfield.type": ADD_OP_FIELD,
                "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
                "transforms.unwrap.drop.tombstones": True,
                "transforms.unwrap.delete.handling.mode": "rewrite",
            }
        )
    return props


def olapsink_manifest(flavor: str, target: Target, bootstrap: str, case: str, group: str) -> dict[str, Any]:
    """A DorisSink/StarRocksSink for `olapsink-worker --config`: same topic, table, flush interval (1 s), no
    compression (like the peers' runs). The password goes in OLAPSINK_DB_PASSWORD, as the worker reads it."""
    host, port = _host_port(target.fe_url)
    spec: dict[str, Any] = {
        "kafka": {"bootstrapServers": bootstrap, "topics": [target.topic], "groupId": group},
        "tables": [{"topic": target.topic, "table": target.table}],
        "buffer": {"flushIntervalMs": 1000},
        "load": {"compression": "none"},
        "converter": {
            "valueFormat": "json" if case == "json" else "json_with_schema",
            "mode": "debezium_ingestion" if case == "debezium" else "normal",
        },
    }
    if flavor == "doris":
        kind = "DorisSink"
        spec["doris"] = {
            "feHosts": [host],
            "httpPort": port,
            "queryPort": target.query_port,
            "user": target.user,
            "database": target.database,
        }
    else:
        kind = "StarRocksSink"
        spec["starrocks"] = {"httpUrls": [f"{host}:{port}"], "user": target.user, "database": target.database}
    return {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": f"bench-{case}".replace("_", "-")},
        "spec": spec,
    }
