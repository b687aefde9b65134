"""Kafka Connect compatibility: the Doris and StarRocks connectors' properties → typed spec fields.

This is the only module that knows Kafka Connect property names. ``translate`` turns a connector config
(``spec.connectorConfig``, or a converted .properties/REST body) into a fragment of the spec (camelCase, as
in YAML), remembering which property produced each field so errors can name the property. Keys we do not
support get an error that says what to use instead; keys with no effect here get a note.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from olapsink_worker.errors import ConfigProblem
from olapsink_worker.spec.base import format_path
from olapsink_worker.spec.sections import Flavor

Path = tuple[str | int, ...]
SecretMode = Literal["reject", "extract"]

CONNECTOR_CLASSES: dict[str, Flavor] = {
    "org.apache.doris.kafka.connector.DorisSinkConnector": "doris",
    "com.starrocks.connector.kafka.StarRocksSinkConnector": "starrocks",
}
KIND_OF_FLAVOR: dict[Flavor, str] = {"doris": "DorisSink", "starrocks": "StarRocksSink"}

NAME_KEY = "name"
CLASS_KEY = "connector.class"

# Keys of a Connect *worker* file (connect-standalone/distributed.properties) that describe the Connect
# cluster, not the sink. ``merge_worker_config`` drops them; everything else is read like connector keys.
WORKER_ONLY_KEYS = frozenset(
    {
        "plugin.path",
        "group.id",
        "offset.storage.file.filename",
        "offset.storage.topic",
        "offset.storage.replication.factor",
        "offset.storage.partitions",
        "offset.flush.interval.ms",
        "offset.flush.timeout.ms",
        "config.storage.topic",
        "config.storage.replication.factor",
        "status.storage.topic",
        "status.storage.replication.factor",
        "status.storage.partitions",
        "listeners",
        "rest.port",
        "rest.host.name",
        "rest.advertised.host.name",
        "rest.advertised.port",
        "internal.key.converter",
        "internal.value.converter",
        "internal.key.converter.schemas.enable",
        "internal.value.converter.schemas.enable",
        "key.converter.schemas.enable.default",
        "scheduled.rebalance.max.delay.ms",
        "connector.client.config.override.policy",
        "task.shutdown.graceful.timeout.ms",
    }
)

CONVERTER_FORMATS: dict[str, str] = {
    "org.apache.kafka.connect.storage.StringConverter": "string",
    "org.apache.kafka.connect.converters.ByteArrayConverter": "string",
    "io.confluent.connect.avro.AvroConverter": "avro",
    "io.confluent.connect.protobuf.ProtobufConverter": "protobuf",
    "org.apache.doris.kafka.connector.decode.avro.DorisAvroConverter": "avro",
}
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
UNSUPPORTED_CONVERTERS = {
    "io.confluent.connect.json.JsonSchemaConverter": "JSON Schema framing (magic byte + schema id) is not "
    "decoded; produce plain JSON (json) or JsonConverter envelopes (json_with_schema)",
}

ADD_OP_FIELD = "com.starrocks.connector.kafka.transforms.AddOpFieldForDebeziumRecord"
EXTRACT_NEW_RECORD_STATE = "io.debezium.transforms.ExtractNewRecordState"
TIME_MILLIS_TO_STRING = "com.starrocks.connector.kafka.transforms.TimeMillisToStringTransform"

# Java consumer settings with a librdkafka name (consumer.X / consumer.override.X → spec.kafka.properties).
CONSUMER_PROPERTIES = {
    "fetch.max.bytes": "fetch.max.bytes",
    "max.partition.fetch.bytes": "max.partition.fetch.bytes",
    "fetch.min.bytes": "fetch.min.bytes",
    "fetch.max.wait.ms": "fetch.wait.max.ms",
    "session.timeout.ms": "session.timeout.ms",
    "heartbeat.interval.ms": "heartbeat.interval.ms",
    "max.poll.interval.ms": "max.poll.interval.ms",
    "auto.offset.reset": "auto.offset.reset",
    "client.id": "client.id",
    "client.rack": "client.rack",
    "isolation.level": "isolation.level",
    "receive.buffer.bytes": "socket.receive.buffer.bytes",
    "metadata.max.age.ms": "metadata.max.age.ms",
    "reconnect.backoff.ms": "reconnect.backoff.ms",
    "reconnect.backoff.max.ms": "reconnect.backoff.max.ms",
    "retry.backoff.ms": "retry.backoff.ms",
}

_KAFKA_TLS = "spec.kafka.security.tls"
UNSUPPORTED: dict[str, str] = {
    "ssl.truststore.location": f"librdkafka cannot read JKS/PKCS12 truststores; export the CA as PEM "
    f"(keytool -exportrfc), store it in a Secret and set {_KAFKA_TLS}.caSecretRef",
    "ssl.truststore.password": f"not needed with a PEM CA in {_KAFKA_TLS}.caSecretRef",
    "ssl.truststore.type": f"only PEM is read: {_KAFKA_TLS}.caSecretRef",
    "ssl.keystore.location": f"librdkafka cannot read JKS/PKCS12 keystores; store the PEM certificate and "
    f"key in Secrets and set {_KAFKA_TLS}.certSecretRef and keySecretRef",
    "ssl.keystore.password": f"not needed with PEM {_KAFKA_TLS}.certSecretRef/keySecretRef",
    "ssl.keystore.type": f"only PEM is read: {_KAFKA_TLS}.certSecretRef/keySecretRef",
    "ssl.key.password": f"use an unencrypted PEM key in {_KAFKA_TLS}.keySecretRef",
    "max.poll.records": "batch size follows spec.buffer (records/bytes/flushIntervalMs)",
    "partition.assignment.strategy": "librdkafka assigns partitions with its own assignors; "
    'set spec.kafka.properties["partition.assignment.strategy"] (range, roundrobin, cooperative-sticky)',
    "group.instance.id": "static membership is not supported; pods are interchangeable",
    "errors.retry.timeout": "olapsink retries failed loads per spec.errors.maxRetries and retryIntervalMs "
    "(max.retries, retry.interval.ms)",
    "errors.retry.delay.max.ms": "olapsink retries failed loads per spec.errors.retryIntervalMs",
    "predicates": "olapsink runs no Kafka Connect predicates or transforms",
    "doris.tls.ca-certificate-path": "store the PEM CA in a Secret and set spec.doris.tls.caSecretRef",
    "key.converter.avro.topic2schema.filepath": "keys are never loaded; only value schemas are read "
    "(value.converter.avro.topic2schema.filepath)",
    "value.converter.basic.auth.user.info": "store user:password in a Secret and set "
    "spec.converter.schemaRegistry.basicAuthSecretRef",
    "key.converter.basic.auth.user.info": "store user:password in a Secret and set "
    "spec.converter.schemaRegistry.basicAuthSecretRef",
}

# Keys accepted for compatibility that change nothing here; the note says why.
NO_EFFECT: dict[str, str] = {
    NAME_KEY: "metadata.name names the sink",
    "jmx": "metrics are served for Prometheus on spec.worker.metricsPort",
    "enable.combine.flush": "olapsink's flush policy is spec.buffer; there is no separate combined mode",
    "header.converter": "record headers are not loaded",
    "key.converter.basic.auth.credentials.source": "see spec.converter.schemaRegistry.basicAuthSecretRef",
    "value.converter.basic.auth.credentials.source": "see spec.converter.schemaRegistry.basicAuthSecretRef",
}


@dataclass(frozen=True)
class LiteralSecret:
    """A secret value found in a connector config, to be stored in a Secret instead of the sink object."""

    key: str  # the connector property it came from
    secret_name: str
    secret_key: str
    value: str


@dataclass
class Translation:
    """The typed fields a connector config stands for, where each came from, and what was wrong."""

    spec: dict[str, Any] = field(default_factory=dict)
    origins: dict[Path, str] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: list[LiteralSecret] = field(default_factory=list)


class _BadValue(ValueError):
    """A property value that cannot be read; the message says what is expected."""


class _Builder:
    """Collects fields into the fragment; a field set twice to different values is a contradiction."""

    def __init__(self, flavor: Flavor, secret_mode: SecretMode, secret_prefix: str) -> None:
        self.flavor = flavor
        self.secret_mode = secret_mode
        self.secret_prefix = secret_prefix
        self.out = Translation()

    def set(self, path: Path, value: Any, key: str) -> None:
        node: dict[Any, Any] = self.out.spec
        for part in path[:-1]:
            node = node.setdefault(part, {})
        leaf = path[-1]
        if leaf in node and node[leaf] != value:
            earlier = self.out.origins.get(path, "?")
            self.problem(key, f"contradicts {earlier}={node[leaf]!r} (both set spec.{format_path(path)})")
            return
        node[leaf] = value
        self.out.origins[path] = key

    def problem(self, key: str, message: str) -> None:
        self.out.problems.append(ConfigProblem(connector_path(key), message))

    def note(self, key: str, message: str) -> None:
        self.out.notes.append(f"{key}: {message}")

    def secret(self, path: Path, key: str, value: str, secret_name: str, secret_key: str) -> None:
        """A credential: an empty value means none; a literal one never goes into the sink object."""
        if value == "":
            return
        if self.secret_mode == "reject":
            self.problem(
                key,
                f"credentials must not be written into the sink object; store the value in a Secret and set "
                f"spec.{format_path(path)} (e.g. kubectl create secret generic {secret_name} "
                f"--from-literal={secret_key}=...)",
            )
            return
        self.out.secrets.append(LiteralSecret(key, secret_name, secret_key, value))
        self.set(path, {"name": secret_name, "key": secret_key}, key)


def connector_path(key: str) -> str:
    """Where a problem with a connector property is reported."""
    return f'spec.connectorConfig["{key}"]'


def translate(
    flavor: Flavor,
    config: dict[str, Any],
    *,
    secret_mode: SecretMode = "reject",
    secret_prefix: str = "sink",
) -> Translation:
    """Translate a Kafka Connect config of the ``flavor`` connector into a spec fragment.

    ``secret_mode="reject"`` (sink objects): a literal password is an error. ``"extract"`` (``olapsink
    convert``): it becomes a Secret reference named ``<secret_prefix>-<doris|starrocks|kafka>`` and is
    returned in ``Translation.secrets`` so the caller can tell the user to create that Secret.
    """
    builder = _Builder(flavor, secret_mode, secret_prefix)
    props = {str(k): "" if v is None else _as_string(v) for k, v in config.items()}
    if flavor == "doris":
        # The Doris connector lowercases every key (values stay as written). Transform aliases are read by
        # Kafka Connect itself, before the connector, and are case-sensitive: `transforms=Unwrap` must
        # still find `transforms.Unwrap.type`.
        props = {k if k.startswith("transforms.") else k.lower(): v for k, v in props.items()}
    handlers = _DORIS_KEYS if flavor == "doris" else _STARROCKS_KEYS
    simple = {**_COMMON_SIMPLE, **(_DORIS_SIMPLE if flavor == "doris" else _STARROCKS_SIMPLE)}
    transforms = _Transforms()
    for key, value in props.items():
        try:
            if key in simple:
                path, parse = simple[key]
                builder.set(path, parse(value), key)
            elif key in handlers:
                handlers[key](builder, key, value)
            elif key in _COMMON_KEYS:
                _COMMON_KEYS[key](builder, key, value)
            elif key == "transforms" or key.startswith("transforms."):
                transforms.add(key, value)
            elif not _prefixed(builder, key, value):
                _unknown(builder, key, list(simple) + list(handlers) + list(_COMMON_KEYS))
        except _BadValue as exc:
            builder.problem(key, str(exc))
    transforms.apply(builder)
    _converters(builder, props)
    return builder.out


# Fields where a connector property is only a starting value: the typed field wins without a conflict.
# tasks.max → replicas: the scale subresource (kubectl scale, HPA, KEDA) writes spec.replicas later.
SOFT_PATHS: frozenset[Path] = frozenset({("replicas",)})


def merge_into_spec(
    spec: dict[str, Any], translation: Translation
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """The spec with the translated fields added. A field set in both places with different values is a
    problem reported at the connector key; equal values are fine (a converted CR may keep both)."""
    problems: list[ConfigProblem] = []
    merged = _deep_copy(spec)
    for path, key in translation.origins.items():
        value = _get(translation.spec, path)
        node: Any = merged
        for part in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(part, {})
        if not isinstance(node, dict):
            continue  # the typed section itself is malformed; validation reports it
        leaf = path[-1]
        if leaf in node and path in SOFT_PATHS:
            continue
        if leaf in node and not _same(node[leaf], value):
            problems.append(
                ConfigProblem(
                    connector_path(key),
                    f"{value!r} contradicts spec.{format_path(path)} = {node[leaf]!r}; set it in one place",
                )
            )
        else:
            node[leaf] = value
    return merged, problems


def merge_worker_config(
    worker: dict[str, str], connector: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Combine a Connect worker file with a connector config, as Connect does: the worker gives
    bootstrap.servers, security and converter defaults; the connector's own keys win."""
    merged: dict[str, str] = {}
    dropped = []
    for key, value in worker.items():
        if key in WORKER_ONLY_KEYS or key.startswith(("producer.", "admin.", "config.providers")):
            dropped.append(key)
        else:
            merged[key] = value
    merged.update(connector)
    notes = [f"worker properties not used by a sink: {', '.join(sorted(dropped))}"] if dropped else []
    return merged, notes


def flavor_of_class(connector_class: str | None) -> Flavor | None:
    """The flavor a connector.class value stands for, or None."""
    if connector_class is None:
        return None
    return CONNECTOR_CLASSES.get(connector_class.strip())


# ---------------------------------------------------------------------------------------------------------
# value parsers


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise _BadValue("must not be empty")
    return value


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _BadValue(f"{value!r} is not a whole number") from None


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise _BadValue(f"{value!r} is not true or false")
    return lowered == "true"


def _lower(value: str) -> str:
    # Both connectors match enum values case-insensitively.
    return _text(value).lower()


def _list(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise _BadValue("must list at least one value (comma-separated)")
    return items


def _seconds_to_ms(value: str) -> int:
    return _int(value) * 1000


def _topic2table(value: str) -> list[dict[str, str]]:
    """``t1:tb1,t2:db.tb2``. The connectors skip or drop a malformed map; here each bad entry is an error."""
    entries = []
    for raw in value.split(","):
        entry = raw.strip()
        topic, sep, table = entry.partition(":")
        if not sep or not topic.strip() or not table.strip() or ":" in table:
            raise _BadValue(f"entry {entry!r} is not topic:table (write topic1:table1,topic2:db.table2)")
        entries.append({"topic": topic.strip(), "table": table.strip()})
    return entries


_JAVA_OFFSET = re.compile(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


def _time_zone(value: str) -> str:
    """database.time_zone is a Java ZoneId: an IANA name, or an offset (``+08:00``, ``GMT+8``, ``UTC+08``).
    Whole-hour offsets become their IANA ``Etc/GMT`` name (whose sign is inverted); others cannot."""
    zone = _text(value)
    found = _JAVA_OFFSET.fullmatch(zone)
    if not found:
        return "UTC" if zone.upper() in ("Z", "GMT", "UT") else zone
    sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    if minutes or hours > 14:
        raise _BadValue(f"{value!r} has no IANA name; use a region such as Asia/Kolkata")
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


Parser = Callable[[str], Any]
Simple = tuple[Path, Parser]

_COMMON_SIMPLE: dict[str, Simple] = {
    "tasks.max": (("replicas",), _int),
    "topics": (("kafka", "topics"), _list),
    "topics.regex": (("kafka", "topicsRegex"), _text),
    "bootstrap.servers": (("kafka", "bootstrapServers"), _text),
    "errors.tolerance": (("errors", "tolerance"), _lower),
    "errors.deadletterqueue.topic.name": (("errors", "deadLetterQueue", "topic"), _text),
    "errors.deadletterqueue.topic.replication.factor": (
        ("errors", "deadLetterQueue", "replicationFactor"),
        _int,
    ),
    "errors.deadletterqueue.context.headers.enable": (("errors", "deadLetterQueue", "contextHeaders"), _bool),
    "errors.log.enable": (("errors", "logErrors"), _bool),
    "errors.log.include.messages": (("errors", "logIncludeMessages"), _bool),
}

_DORIS_SIMPLE: dict[str, Simple] = {
    "doris.urls": (("doris", "feHosts"), _list),
    "doris.http.port": (("doris", "httpPort"), _int),
    "doris.query.port": (("doris", "queryPort"), _int),
    "doris.user": (("doris", "user"), _text),
    "doris.database": (("doris", "database"), _text),
    "doris.topic2table.map": (("tables",), _topic2table),
    "record.tablename.field": (("tableField",), _text),
    "buffer.size.bytes": (("buffer", "bytes"), _int),
    "buffer.flush.time": (("buffer", "flushIntervalMs"), _seconds_to_ms),
    "enable.delete": (("deletes", "enabled"), _bool),
    "label.prefix": (("load", "labelPrefix"), _text),
    "auto.redirect": (("doris", "autoRedirect"), _bool),
    "request.connect.timeout.ms": (("doris", "requestConnectTimeoutMs"), _int),
    "request.read.timeout.ms": (("doris", "requestReadTimeoutMs"), _int),
    "converter.mode": (("converter", "mode"), _lower),
    "debezium.schema.evolution": (("schemaEvolution",), _lower),
    "database.time_zone": (("timeZone",), _time_zone),
    "max.retries": (("errors", "maxRetries"), _int),
    "retry.interval.ms": (("errors", "retryIntervalMs"), _int),
    "behavior.on.null.values": (("nullValues",), _lower),
    "delivery.guarantee": (("deliveryGuarantee",), _lower),
    "doris.enable.tls": (("doris", "tls", "enabled"), _bool),
    "doris.tls.skip-hostname-verification": (("doris", "tls", "skipHostnameVerification"), _bool),
    "doris.tls.excluded-protocols": (
        ("doris", "tls", "excludedProtocols"),
        lambda v: [p.lower() for p in _list(v)],
    ),
}

_STARROCKS_SIMPLE: dict[str, Simple] = {
    "starrocks.http.url": (("starrocks", "httpUrls"), _list),
    "starrocks.database.name": (("starrocks", "database"), _text),
    "starrocks.username": (("starrocks", "user"), _text),
    "starrocks.topic2table.map": (("tables",), _topic2table),
    "bufferflush.maxbytes": (("buffer", "bytes"), _int),
    "bufferflush.intervalms": (("buffer", "flushIntervalMs"), _int),
    "connect.timeoutms": (("starrocks", "connectTimeoutMs"), _int),
    "sink.maxretries": (("errors", "maxRetries"), _int),
}

Handler = Callable[[_Builder, str, str], None]


def _connector_class(b: _Builder, key: str, value: str) -> None:
    found = flavor_of_class(value)
    if found != b.flavor:
        expected = next(c for c, f in CONNECTOR_CLASSES.items() if f == b.flavor)
        hint = f" (that is a {KIND_OF_FLAVOR[found]})" if found else ""
        raise _BadValue(f"{value!r} is not the {b.flavor} sink connector {expected}{hint}")


def _no_effect(b: _Builder, key: str, value: str) -> None:
    b.note(key, f"accepted, no effect: {NO_EFFECT[key]}")


def _unsupported(b: _Builder, key: str, value: str) -> None:
    b.problem(key, f"not supported: {UNSUPPORTED[key]}")


def _buffer_count(b: _Builder, key: str, value: str) -> None:
    count = _int(value)
    # The Doris connector treats 0 as "no record-count trigger"; here that is records: null.
    b.set(("buffer", "records"), None if count == 0 else count, key)


def _enable_2pc(b: _Builder, key: str, value: str) -> None:
    # Explicit true forces 2PC (even on Unique Key tables); absent means the connector's automatic choice.
    b.set(("load", "twoPhaseCommit"), "enabled" if _bool(value) else "disabled", key)


def _load_model(b: _Builder, key: str, value: str) -> None:
    if _lower(value) != "stream_load":
        raise _BadValue(
            f"{value!r} is not supported: olapsink loads with Stream Load only (copy_into is a SelectDB "
            "Cloud stage upload); remove the key or set stream_load"
        )


def _password(section: str) -> Handler:
    def handle(b: _Builder, key: str, value: str) -> None:
        b.secret((section, "passwordSecretRef"), key, value, f"{b.secret_prefix}-{section}", "password")

    return handle


def _security_protocol(b: _Builder, key: str, value: str) -> None:
    protocol = _text(value).upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise _BadValue(f"{value!r} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    b.set(("kafka", "security", "protocol"), protocol, key)


def _sasl_mechanism(b: _Builder, key: str, value: str) -> None:
    mechanism = _text(value).upper()
    if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        raise _BadValue(f"{value!r} is not supported; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    b.set(("kafka", "security", "sasl", "mechanism"), mechanism, key)


_JAAS = re.compile(r'(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _sasl_jaas(b: _Builder, key: str, value: str) -> None:
    if "PlainLoginModule" not in value and "ScramLoginModule" not in value:
        raise _BadValue("only PlainLoginModule and ScramLoginModule logins are supported (SASL PLAIN/SCRAM)")
    if b.secret_mode == "reject":
        b.problem(
            key,
            "credentials must not be written into the sink object; store user name and password in a Secret "
            "and set spec.kafka.security.sasl.usernameSecretRef and passwordSecretRef",
        )
        return
    credentials = dict(_JAAS.findall(value))
    secret_name = f"{b.secret_prefix}-kafka"
    for field_name in ("username", "password"):
        if field_name not in credentials:
            raise _BadValue(f'no {field_name}="..." in the JAAS config')
        b.out.secrets.append(LiteralSecret(key, secret_name, field_name, credentials[field_name]))
        b.set(
            ("kafka", "security", "sasl", f"{field_name}SecretRef"),
            {"name": secret_name, "key": field_name},
            key,
        )


def _endpoint_identification(b: _Builder, key: str, value: str) -> None:
    b.set(("kafka", "security", "tls", "skipHostnameVerification"), value.strip() == "", key)


_SECURITY_KEYS: dict[str, Handler] = {
    "security.protocol": _security_protocol,
    "sasl.mechanism": _sasl_mechanism,
    "sasl.jaas.config": _sasl_jaas,
    "ssl.endpoint.identification.algorithm": _endpoint_identification,
}

_COMMON_KEYS: dict[str, Handler] = {
    CLASS_KEY: _connector_class,
    **{key: _no_effect for key in NO_EFFECT},
    **{key: _unsupported for key in UNSUPPORTED},
    **_SECURITY_KEYS,
}

_DORIS_KEYS: dict[str, Handler] = {
    "buffer.count.records": _buffer_count,
    "enable.2pc": _enable_2pc,
    "load.model": _load_model,
    "doris.password": _password("doris"),
}

_STARROCKS_KEYS: dict[str, Handler] = {
    "starrocks.password": _password("starrocks"),
}


# ---------------------------------------------------------------------------------------------------------
# prefixed families: consumer.*, sink.properties.*, converters' own settings


def _prefixed(b: _Builder, key: str, value: str) -> bool:
    """Handle a key of a prefixed family; False if the key is unknown."""
    for prefix in ("consumer.override.", "consumer."):
        if key.startswith(prefix):
            _consumer_key(b, key, key.removeprefix(prefix), value)
            return True
    if key.startswith("sink.properties."):
        _stream_load_property(b, key, key.removeprefix("sink.properties.").lower(), value)
        return True
    if key in ("key.converter", "value.converter"):
        return True  # read in _converters, with the converter's own settings
    if key.startswith(("key.converter.", "value.converter.")):
        return key.endswith((".schemas.enable", ".schema.registry.url")) or key == (
            "value.converter.avro.topic2schema.filepath"
        )  # read together with the converter class in _converters
    if b.flavor == "doris" and key.startswith("sink.s3."):
        b.problem(
            key, "not supported: olapsink loads with Stream Load; the S3 TVF sink mode is not available"
        )
        return True
    return False


def _consumer_key(b: _Builder, key: str, setting: str, value: str) -> None:
    if setting in _SECURITY_KEYS:
        _SECURITY_KEYS[setting](b, key, value)
    elif setting in UNSUPPORTED:
        b.problem(key, f"not supported: {UNSUPPORTED[setting]}")
    elif setting == "bootstrap.servers":
        b.set(("kafka", "bootstrapServers"), _text(value), key)
    elif setting == "group.id":
        b.set(("kafka", "groupId"), _text(value), key)
    elif setting in CONSUMER_PROPERTIES:
        b.set(("kafka", "properties", CONSUMER_PROPERTIES[setting]), value.strip(), key)
    elif setting in ("enable.auto.commit", "auto.commit.interval.ms"):
        b.note(key, "ignored: olapsink commits offsets itself, only after a successful load")
    else:
        known = list(CONSUMER_PROPERTIES) + list(_SECURITY_KEYS) + ["bootstrap.servers", "group.id"]
        hint = difflib.get_close_matches(setting, known, n=1)
        b.problem(
            key,
            f"consumer setting {setting!r} has no librdkafka equivalent here"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + "; librdkafka settings can be passed in spec.kafka.properties",
        )


_GROUP_COMMIT = {"off_mode": "off", "sync_mode": "sync", "async_mode": "async"}
_DORIS_COMPRESSION = {"": "none", "gz": "gzip", "lz4": "lz4"}


def _stream_load_property(b: _Builder, key: str, header: str, value: str) -> None:
    """sink.properties.<header>: typed where we have a field, else passed through as a header."""
    if header == "format":
        fmt = _lower(value)
        if fmt not in ("json", "csv"):
            raise _BadValue(f"{value!r} is not supported; olapsink loads json or csv")
        b.set(("load", "format"), fmt, key)
    elif header == "max_filter_ratio":
        try:
            b.set(("load", "maxFilterRatio"), float(value), key)
        except ValueError:
            raise _BadValue(f"{value!r} is not a number between 0 and 1") from None
    elif b.flavor == "doris" and header == "compress_type":
        lowered = value.strip().lower()
        if lowered not in _DORIS_COMPRESSION:
            raise _BadValue(f"{value!r} is not supported; use gz, lz4 or empty (no compression)")
        b.set(("load", "compression"), _DORIS_COMPRESSION[lowered], key)
    elif b.flavor == "doris" and header == "group_commit":
        mode = _lower(value)
        if mode not in _GROUP_COMMIT:
            raise _BadValue(f"{value!r} is not off_mode, sync_mode or async_mode")
        b.set(("load", "groupCommit"), _GROUP_COMMIT[mode], key)
    elif b.flavor == "starrocks" and header == "compression":
        if _lower(value) != "lz4_frame":
            raise _BadValue(f"{value!r} is not supported; StarRocks loads compress with lz4_frame")
        b.set(("load", "compression"), "lz4", key)
    elif header == "two_phase_commit":
        raise _BadValue("set enable.2pc (spec.load.twoPhaseCommit) instead of the raw header")
    elif header in ("label", "hidden_columns"):
        raise _BadValue(f"olapsink sets the {header} header itself (see spec.load.labelPrefix, spec.deletes)")
    else:
        b.set(("load", "properties", header), value, key)


def _converters(b: _Builder, props: dict[str, str]) -> None:
    """key.converter / value.converter with their schemas.enable, registry URL and Avro schema files."""
    registry_urls: dict[str, str] = {}
    for side in ("key", "value"):
        class_key = f"{side}.converter"
        registry_key = f"{class_key}.schema.registry.url"
        if registry_key in props:
            registry_urls[registry_key] = _text(props[registry_key])
        schemas_key = f"{class_key}.schemas.enable"
        if class_key not in props and schemas_key not in props:
            continue
        if class_key not in props:
            # Kafka's shipped worker configs use JsonConverter; schemas.enable alone only makes sense for it.
            b.note(schemas_key, f"no {class_key}: read as the worker's JsonConverter")
        converter = props.get(class_key, JSON_CONVERTER).strip()
        path = ("converter", f"{side}Format")
        if converter == JSON_CONVERTER:
            # Kafka's JsonConverter default is schemas.enable=true: records must be {"schema", "payload"}.
            enabled = True
            if schemas_key in props:
                try:
                    enabled = _bool(props[schemas_key])
                except _BadValue as exc:
                    b.problem(schemas_key, str(exc))
                    continue
            else:
                b.note(
                    class_key,
                    "JsonConverter without schemas.enable: Kafka's default true expects {schema, payload} "
                    f"envelopes (json_with_schema); set {schemas_key}=false for plain JSON",
                )
            b.set(
                path,
                "json_with_schema" if enabled else "json",
                schemas_key if schemas_key in props else class_key,
            )
        elif converter in CONVERTER_FORMATS:
            b.set(path, CONVERTER_FORMATS[converter], class_key)
            if schemas_key in props:
                b.note(schemas_key, "ignored: only JsonConverter reads schemas.enable")
        elif converter in UNSUPPORTED_CONVERTERS:
            b.problem(class_key, f"not supported: {UNSUPPORTED_CONVERTERS[converter]}")
        else:
            b.problem(
                class_key,
                f"olapsink cannot run the Java converter {converter!r}; supported: {JSON_CONVERTER}, "
                + ", ".join(CONVERTER_FORMATS),
            )
    for registry_key, url in registry_urls.items():
        b.set(("converter", "schemaRegistry", "url"), url, registry_key)
    files_key = "value.converter.avro.topic2schema.filepath"
    if files_key in props:
        try:
            b.set(("converter", "avroSchemaFiles"), _avro_schema_files(props[files_key]), files_key)
        except _BadValue as exc:
            b.problem(files_key, str(exc))


def _avro_schema_files(value: str) -> dict[str, str]:
    """``topic:file:///path.avsc,topic2:file:///other.avsc`` (split on ``:file://`` like the connector)."""
    files = {}
    for raw in value.split(","):
        entry = raw.strip()
        topic, sep, path = entry.partition(":file://")
        if not sep or not topic.strip() or not path.strip():
            raise _BadValue(f"entry {entry!r} is not topic:file:///path.avsc")
        files[topic.strip()] = path.strip()
    return files


# ---------------------------------------------------------------------------------------------------------
# transforms: only the Debezium flattening pair and StarRocks' time transform have an equivalent


class _Transforms:
    def __init__(self) -> None:
        self.order: list[str] | None = None
        self.settings: dict[str, dict[str, str]] = {}
        self.keys: dict[str, str] = {}  # alias → the key that defined its type

    def add(self, key: str, value: str) -> None:
        if key == "transforms":
            self.order = [alias.strip() for alias in value.split(",") if alias.strip()]
            return
        alias, _, setting = key.removeprefix("transforms.").partition(".")
        self.settings.setdefault(alias, {})[setting] = value
        if setting == "type":
            self.keys[alias] = key

    def apply(self, b: _Builder) -> None:
        order = self.order or []
        for alias in self.settings:
            if alias not in order:
                b.problem(f"transforms.{alias}.type", f"transform {alias!r} is not listed in transforms")
        kinds: dict[str, str] = {}
        for alias in order:
            settings = self.settings.get(alias, {})
            type_key = f"transforms.{alias}.type"
            kind = settings.get("type", "").strip()
            if kind == ADD_OP_FIELD:
                kinds["addfield"] = alias
            elif kind == EXTRACT_NEW_RECORD_STATE:
                kinds["unwrap"] = alias
                self._check_unwrap(b, alias, settings)
            elif kind == TIME_MILLIS_TO_STRING:
                self._time_millis(b, alias, settings)
            elif not kind:
                b.problem(type_key, f"transform {alias!r} has no type")
            else:
                b.problem(
                    type_key,
                    f"olapsink runs no Kafka Connect transforms; {kind!r} has no equivalent. Supported: "
                    f"{EXTRACT_NEW_RECORD_STATE} and {ADD_OP_FIELD} (→ converter.mode debezium_ingestion, "
                    f"deletes) and {TIME_MILLIS_TO_STRING} (→ converter.timeMillisToString)",
                )
        if not kinds:
            return
        first_key = f"transforms.{next(iter(kinds.values()))}.type"
        b.set(("converter", "mode"), "debezium_ingestion", first_key)
        if (
            "addfield" in kinds
            and "unwrap" in kinds
            and order.index(kinds["addfield"]) > order.index(kinds["unwrap"])
        ):
            b.problem(
                "transforms",
                f"{kinds['addfield']} must come before {kinds['unwrap']}: AddOpFieldForDebeziumRecord needs "
                "the Debezium envelope, which ExtractNewRecordState removes",
            )
        if "addfield" in kinds:
            unwrap_mode = self.settings.get(kinds.get("unwrap", ""), {}).get("delete.handling.mode", "drop")
            deletes = "unwrap" not in kinds or unwrap_mode.strip().lower() == "rewrite"
            b.set(("deletes", "enabled"), deletes, f"transforms.{kinds['addfield']}.type")
            if not deletes:
                b.note(
                    f"transforms.{kinds['unwrap']}.delete.handling.mode",
                    "drop discards delete events, so deletes stay off; use rewrite to apply them",
                )

    @staticmethod
    def _check_unwrap(b: _Builder, alias: str, settings: dict[str, str]) -> None:
        for setting, value in settings.items():
            key = f"transforms.{alias}.{setting}"
            if setting in ("type", "drop.tombstones"):
                continue
            if setting == "delete.handling.mode":
                if value.strip().lower() not in ("drop", "rewrite", "none"):
                    b.problem(key, f"{value!r} is not drop, rewrite or none")
            else:
                b.problem(key, f"ExtractNewRecordState setting {setting!r} is not supported")

    @staticmethod
    def _time_millis(b: _Builder, alias: str, settings: dict[str, str]) -> None:
        value: dict[str, Any] = {}
        for setting, raw in settings.items():
            key = f"transforms.{alias}.{setting}"
            if setting == "fields":
                value["fields"] = [f.strip() for f in raw.split(",") if f.strip()]
            elif setting == "format":
                value["format"] = raw.strip()
            elif setting != "type":
                b.problem(key, f"TimeMillisToStringTransform has no setting {setting!r} (fields, format)")
        b.set(("converter", "timeMillisToString"), value, f"transforms.{alias}.type")


# ---------------------------------------------------------------------------------------------------------
# helpers


def _unknown(b: _Builder, key: str, known: list[str]) -> None:
    other = "starrocks" if b.flavor == "doris" else "doris"
    other_keys = set(_STARROCKS_SIMPLE if other == "starrocks" else _DORIS_SIMPLE)
    other_keys.update(_STARROCKS_KEYS if other == "starrocks" else _DORIS_KEYS)
    if key in other_keys:
        b.problem(key, f"is a property of the {other} connector, not of the {b.flavor} one")
        return
    hint = difflib.get_close_matches(key, known, n=1)
    b.problem(
        key,
        f"unknown property of the {b.flavor} connector" + (f"; did you mean {hint[0]!r}?" if hint else ""),
    )


def _get(tree: dict[str, Any], path: Path) -> Any:
    node: Any = tree
    for part in path:
        node = node[part]
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return bool(a == b)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------
# reference: what each property becomes (docs/configuration.md is generated from this)

_HANDLED: dict[str, str] = {
    CLASS_KEY: "selects the kind (DorisSink / StarRocksSink); must match it",
    "buffer.count.records": "spec.buffer.records (0 → null: no record-count trigger)",
    "enable.2pc": "spec.load.twoPhaseCommit (true → enabled, false → disabled, absent → auto)",
    "load.model": "stream_load only (copy_into is not supported)",
    "doris.password": "spec.doris.passwordSecretRef (a literal value is refused; convert makes a Secret)",
    "starrocks.password": "spec.starrocks.passwordSecretRef (a literal is refused; convert makes a Secret)",
    "security.protocol": "spec.kafka.security.protocol",
    "sasl.mechanism": "spec.kafka.security.sasl.mechanism",
    "sasl.jaas.config": "spec.kafka.security.sasl.username/passwordSecretRef (convert makes a Secret)",
    "ssl.endpoint.identification.algorithm": "spec.kafka.security.tls.skipHostnameVerification (empty: true)",
}

_FAMILIES: list[tuple[str, str, str]] = [
    # (pattern, flavors, what it becomes)
    (
        "key.converter / value.converter",
        "both",
        "spec.converter.keyFormat / valueFormat (see converters below)",
    ),
    (
        "key.converter.schemas.enable / value.converter.schemas.enable",
        "both",
        "JsonConverter: json_with_schema (true, Kafka's default) or json (false)",
    ),
    (
        "key.converter.schema.registry.url / value.converter.schema.registry.url",
        "both",
        "spec.converter.schemaRegistry.url",
    ),
    ("value.converter.avro.topic2schema.filepath", "both", "spec.converter.avroSchemaFiles"),
    ("sink.properties.format", "both", "spec.load.format (json, csv)"),
    ("sink.properties.max_filter_ratio", "both", "spec.load.maxFilterRatio"),
    ("sink.properties.compress_type", "doris", "spec.load.compression (gz → gzip, lz4 → lz4, empty → none)"),
    (
        "sink.properties.group_commit",
        "doris",
        "spec.load.groupCommit (off_mode/sync_mode/async_mode → off/sync/async)",
    ),
    ("sink.properties.compression", "starrocks", "spec.load.compression (lz4_frame → lz4)"),
    ("sink.properties.*", "both", "spec.load.properties (header names lowercased)"),
    (
        "consumer.* / consumer.override.*",
        "both",
        "security keys as above; Java consumer settings with a librdkafka "
        "name → spec.kafka.properties ("
        + ", ".join(f"{k}→{v}" for k, v in CONSUMER_PROPERTIES.items() if k != v)
        + "); group.id → spec.kafka.groupId",
    ),
    (
        "transforms, transforms.<alias>.*",
        "both",
        f"{EXTRACT_NEW_RECORD_STATE} / {ADD_OP_FIELD} → spec.converter.mode "
        f"debezium_ingestion and spec.deletes.enabled; {TIME_MILLIS_TO_STRING} → "
        "spec.converter.timeMillisToString; "
        "other transforms are refused",
    ),
]


def key_reference() -> list[tuple[str, str, str]]:
    """(property, flavors, what it becomes) for every property olapsink reads, refuses or ignores."""
    rows: list[tuple[str, str, str]] = []
    tables: list[tuple[str, dict[str, Any]]] = [
        ("both", {**_COMMON_SIMPLE, **{k: v for k, v in _COMMON_KEYS.items() if k in _HANDLED}}),
        ("doris", {**_DORIS_SIMPLE, **_DORIS_KEYS}),
        ("starrocks", {**_STARROCKS_SIMPLE, **_STARROCKS_KEYS}),
    ]
    for flavors, table in tables:
        for key, entry in table.items():
            target = _HANDLED.get(key) or f"spec.{format_path(entry[0])}"
            rows.append((key, flavors, target))
    rows += [(key, "both", f"accepted, no effect: {why}") for key, why in NO_EFFECT.items()]
    rows += [(key, "both", f"refused: {hint}") for key, hint in UNSUPPORTED.items()]
    rows += _FAMILIES
    rows += [
        (key, "worker file", "dropped by convert --worker (Connect cluster setting)")
        for key in sorted(WORKER_ONLY_KEYS)
    ]
    return rows


def converter_reference() -> list[tuple[str, str]]:
    """(converter class, format) for every converter class olapsink reads."""
    rows = [(JSON_CONVERTER, "json_with_schema, or json with schemas.enable=false")]
    rows += list(CONVERTER_FORMATS.items())
    rows += [(cls, f"refused: {why}") for cls, why in UNSUPPORTED_CONVERTERS.items()]
    return rows
