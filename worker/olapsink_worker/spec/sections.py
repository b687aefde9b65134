"""The spec sections both kinds share: tables, buffer, load, converter, errors, worker pod, autoscaling."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from olapsink_worker.spec.base import (
    DNS_SUBDOMAIN,
    SECRET_KEY,
    SecretKeyRef,
    SpecModel,
    raise_problems,
    refuse_typed_keys,
)

MiB = 1024 * 1024

Flavor = Literal["doris", "starrocks"]

# Label character sets (Doris FeNameFormat `^[-_A-Za-z0-9:]{1,128}$`; StarRocks `^[-\w]{1,128}$`, Java's \w
# being ASCII). A prefix is checked against them so that a bad prefix fails here, not on every load.
LABEL_PATTERNS: dict[Flavor, re.Pattern[str]] = {
    "doris": re.compile(r"^[-_A-Za-z0-9:]+$"),
    "starrocks": re.compile(r"^[-_A-Za-z0-9]+$"),
}
LABEL_MAX_LENGTH = 128
LABEL_PREFIX_MAX_LENGTH = 64

State = Literal["Running", "Paused"]
DeliveryGuarantee = Literal["at_least_once", "exactly_once"]
ConverterMode = Literal["normal", "debezium_ingestion"]
KeyFormat = Literal["json", "json_with_schema", "string", "avro", "protobuf", "none"]
ValueFormat = Literal["json", "json_with_schema", "string", "avro", "protobuf"]
SchemaEvolution = Literal["none", "basic"]
NullValues = Literal["ignore", "fail"]
ErrorTolerance = Literal["none", "all"]
LoadFormat = Literal["json", "csv"]
Compression = Literal["none", "gzip", "lz4"]
TwoPhaseCommit = Literal["auto", "enabled", "disabled"]
GroupCommit = Literal["off", "sync", "async"]


class TableMapping(SpecModel):
    """One entry of the topic→table map (doris.topic2table.map / starrocks.topic2table.map)."""

    topic: str = Field(min_length=1, description="Kafka topic.")
    table: str = Field(
        min_length=1, description="Target table: 'table' (in the sink's database) or 'database.table'."
    )

    @field_validator("table")
    @classmethod
    def _table_name(cls, table: str) -> str:
        parts = table.split(".")
        if len(parts) > 2 or not all(p.strip() == p and p for p in parts) or any(c in table for c in "`'\" "):
            raise ValueError(f"{table!r} is not 'table' or 'database.table'")
        return table


class BufferSpec(SpecModel):
    """Flush triggers: a table's buffer is loaded when any limit is reached. Defaults depend on the kind."""

    records: int | None = Field(
        default=None, gt=0, description="Flush at this many records; null: no record-count trigger."
    )
    bytes: int = Field(gt=0, description="Flush at this many buffered bytes.")
    flush_interval_ms: int = Field(gt=0, description="Flush at least this often (ms) when data is buffered.")
    memory_budget_bytes: int = Field(
        default=256 * MiB,
        gt=0,
        description="Worker-wide memory for buffered records; beyond it partitions pause (backpressure).",
    )

    @model_validator(mode="after")
    def _budget_holds_a_buffer(self) -> BufferSpec:
        if self.memory_budget_bytes < self.bytes:
            raise_problems(
                [("memoryBudgetBytes", f"must be at least buffer.bytes ({self.bytes}) or no buffer can fill")]
            )
        return self


class DorisBufferSpec(BufferSpec):
    """Doris defaults: buffer.count.records 50000, buffer.size.bytes 100 MiB, buffer.flush.time 120 s."""

    records: int | None = Field(
        default=50000,
        gt=0,
        description="Flush at this many records (buffer.count.records; 0 there means null here: no trigger).",
    )
    bytes: int = Field(
        default=100 * MiB, gt=0, description="Flush at this many bytes (buffer.size.bytes; 100 MiB)."
    )
    flush_interval_ms: int = Field(
        default=120_000, gt=0, description="Flush interval in ms (buffer.flush.time, which is in seconds)."
    )


class StarRocksBufferSpec(BufferSpec):
    """StarRocks defaults: no record trigger, bufferflush.maxbytes 64 MiB, bufferflush.intervalms 1000."""

    bytes: int = Field(
        default=64 * MiB,
        gt=0,
        description="Flush at this many bytes (bufferflush.maxbytes; 64 MiB, the docs' 90 MiB is wrong).",
    )
    flush_interval_ms: int = Field(
        default=1000, gt=0, description="Flush interval in ms (bufferflush.intervalms)."
    )


class LoadSpec(SpecModel):
    """How batches are loaded with Stream Load. Compression default depends on the kind."""

    format: LoadFormat = Field(default="json", description="Body format (sink.properties.format).")
    compression: Compression = Field(
        description="Body compression: Doris sink.properties.compress_type=gz, StarRocks "
        "sink.properties.compression=lz4_frame."
    )
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="Other Stream Load headers (sink.properties.*); keys "
        "are lowercased as the connectors do.",
    )
    label_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Start of every load label (label.prefix, which the Doris connector ignored). Default: "
        "derived from namespace and name. At most 64 characters so that labels stay within 128.",
    )
    two_phase_commit: TwoPhaseCommit = Field(
        default="auto",
        description="Doris enable.2pc: auto = on for deliveryGuarantee exactly_once only (deterministic "
        "labels already make at-least-once replays safe); enabled = every load is pre-committed, then "
        "committed (error with group commit); disabled = never. StarRocks loads ignore it.",
    )
    group_commit: GroupCommit = Field(
        default="off",
        description="Doris group commit (sink.properties.group_commit off_mode|sync_mode|async_mode). "
        "Quote 'off' in YAML: a bare off reads as false.",
    )
    max_filter_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of rows the database may filter (sink.properties.max_filter_ratio).",
    )

    @field_validator("group_commit", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted `off` as false.
        return "off" if value is False else value

    @field_validator("properties", mode="before")
    @classmethod
    def _lowercase_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
        return value

    @field_validator("properties")
    @classmethod
    def _no_typed_headers(cls, properties: dict[str, str]) -> dict[str, str]:
        typed = {
            "format": "spec.load.format",
            "compress_type": "spec.load.compression",
            "compression": "spec.load.compression",
            "group_commit": "spec.load.groupCommit",
            "max_filter_ratio": "spec.load.maxFilterRatio",
            "two_phase_commit": "spec.load.twoPhaseCommit",
            "label": "spec.load.labelPrefix",
            "hidden_columns": "spec.deletes.enabled",
        }
        return refuse_typed_keys(properties, typed, "header")

    @model_validator(mode="after")
    def _group_commit_without_2pc(self) -> LoadSpec:
        problems = []
        if self.group_commit != "off" and self.two_phase_commit == "enabled":
            problems.append(("twoPhaseCommit", "group commit cannot be combined with two-phase commit"))
        if self.group_commit != "off" and self.properties.get("partial_columns", "").lower() == "true":
            # Doris silently loads without group commit then; the connector refuses the pair, and so do we.
            problems.append(
                ("groupCommit", "group commit cannot be combined with partial_columns (partial updates)")
            )
        raise_problems(problems)
        return self


def check_label_prefix(prefix: str | None, flavor: Flavor) -> str | None:
    """Reject a prefix the database would refuse in every label, naming the allowed characters."""
    if prefix is not None and not LABEL_PATTERNS[flavor].fullmatch(prefix):
        allowed = "letters, digits, '-', '_' and ':'" if flavor == "doris" else "letters, digits, '-' and '_'"
        raise ValueError(f"{prefix!r} would make labels {flavor} rejects; use only {allowed}")
    return prefix


class DorisLoadSpec(LoadSpec):
    """Doris load defaults: gzip (the connector's default since #95; Doris 2.1 rejects compressed JSON)."""

    @field_validator("label_prefix")
    @classmethod
    def _doris_label(cls, prefix: str | None) -> str | None:
        return check_label_prefix(prefix, "doris")

    compression: Compression = Field(
        default="gzip",
        description="Body compression (sink.properties.compress_type: gz → gzip, empty → none). "
        "Doris 2.1 cannot read compressed JSON: use none there.",
    )


class StarRocksLoadSpec(LoadSpec):
    """StarRocks load defaults: no compression."""

    @field_validator("label_prefix")
    @classmethod
    def _starrocks_label(cls, prefix: str | None) -> str | None:
        return check_label_prefix(prefix, "starrocks")

    compression: Compression = Field(
        default="none",
        description="Body compression (sink.properties.compression=lz4_frame → lz4; gzip is sent as "
        "compression: gzip, or format: gzip for CSV); compressed JSON needs StarRocks 3.2.7+.",
    )

    @model_validator(mode="after")
    def _starrocks_limits(self) -> StarRocksLoadSpec:
        problems = []
        if self.group_commit != "off":
            problems.append(
                (
                    "groupCommit",
                    "group commit is Doris only; StarRocks merge commit is "
                    "set with properties enable_merge_commit",
                )
            )
        raise_problems(problems)
        return self


class DeletesSpec(SpecModel):
    """Deletes: Doris enable.delete (__DORIS_DELETE_SIGN__), StarRocks __op (AddOpFieldForDebeziumRecord)."""

    enabled: bool = Field(default=False, description="Turn Debezium deletes into deletes in the table.")


class RegistryTlsSpec(SpecModel):
    """TLS material for the Schema Registry."""

    ca_secret_ref: SecretKeyRef | None = Field(default=None, description="PEM CA certificate.")
    skip_hostname_verification: bool = Field(default=False, description="Do not check the host name.")


class SchemaRegistrySpec(SpecModel):
    """Confluent Schema Registry for avro/protobuf (*.converter.schema.registry.url)."""

    url: str | None = Field(default=None, description="Registry URL (value.converter.schema.registry.url).")
    basic_auth_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding user:password (basic.auth.user.info)."
    )
    tls: RegistryTlsSpec | None = Field(default=None, description="TLS to the registry.")


class TimeMillisToStringSpec(SpecModel):
    """StarRocks TimeMillisToStringTransform: Connect Time fields (ms of day) become strings."""

    fields: list[str] = Field(default_factory=list, description="Fields to convert; empty: every Time field.")
    format: Literal["HH:mm:ss", "HH:mm:ss.SSS"] = Field(default="HH:mm:ss", description="Output format.")


class ConverterSpec(SpecModel):
    """How record keys and values are decoded (key.converter, value.converter, converter.mode)."""

    mode: ConverterMode = Field(
        default="normal",
        description="normal, or debezium_ingestion for Debezium envelopes (converter.mode; StarRocks "
        "ExtractNewRecordState + AddOpFieldForDebeziumRecord).",
    )
    key_format: KeyFormat = Field(default="string", description="Key decoding (key.converter).")
    value_format: ValueFormat = Field(
        default="json",
        description="Value decoding (value.converter): json = JsonConverter schemas.enable=false, "
        "json_with_schema = schemas.enable=true, string = StringConverter (passed through).",
    )
    schema_registry: SchemaRegistrySpec = Field(
        default_factory=SchemaRegistrySpec, description="For avro/protobuf."
    )
    avro_schema_files: dict[str, str] = Field(
        default_factory=dict,
        description="topic → .avsc file path for raw Avro (value.converter.avro.topic2schema.filepath): "
        "absolute (file:// allowed) or relative. A relative path is a key of avroSchemaConfigMap under the "
        "operator; run by hand, it is resolved against $OLAPSINK_AVRO_SCHEMA_DIR, by default the directory "
        "of the --config file.",
    )
    avro_schema_config_map: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="ConfigMap (same namespace) holding the .avsc files. The operator mounts it read-only "
        "at /etc/olapsink/avro in the worker pods, relative avroSchemaFiles paths name its keys, and a "
        "change to its data rolls the workers.",
    )
    time_millis_to_string: TimeMillisToStringSpec | None = Field(
        default=None, description="StarRocks TimeMillisToStringTransform equivalent."
    )

    @model_validator(mode="after")
    def _decoders_have_schemas(self) -> ConverterSpec:
        problems = []
        registry = self.schema_registry.url is not None
        if self.value_format == "avro" and not registry and not self.avro_schema_files:
            problems.append(("valueFormat", "avro needs schemaRegistry.url or avroSchemaFiles"))
        if self.value_format == "protobuf" and not registry:
            problems.append(("valueFormat", "protobuf needs schemaRegistry.url"))
        if self.key_format in ("avro", "protobuf") and not registry:
            problems.append(("keyFormat", f"{self.key_format} keys need schemaRegistry.url"))
        problems += self._schema_config_map_problems()
        raise_problems(problems)
        return self

    def _schema_config_map_problems(self) -> list[tuple[str, str]]:
        config_map = self.avro_schema_config_map
        if config_map is None:
            return []
        if self.value_format != "avro" or not self.avro_schema_files:
            return [
                (
                    "avroSchemaConfigMap",
                    "holds the .avsc files of avroSchemaFiles, so it needs valueFormat: avro and "
                    "avroSchemaFiles; set those or remove it",
                )
            ]
        problems = []
        for topic, path in self.avro_schema_files.items():
            file = schema_file_path(path)
            # ConfigMap keys are flat: a relative path with a directory could never be in the mount.
            if not file.is_absolute() and not re.fullmatch(SECRET_KEY, str(file)):
                problems.append(
                    (
                        f"avroSchemaFiles.{topic}",
                        f"{path!r} is relative, so it must be a key of ConfigMap {config_map} "
                        f"(letters, digits, '-', '_', '.'; no '/'), e.g. {file.name!r}",
                    )
                )
        return problems


def schema_file_path(path: str) -> PurePosixPath:
    """An avroSchemaFiles entry as a path, ``file://`` dropped (the Doris converter accepts both forms)."""
    return PurePosixPath(path.removeprefix("file://"))


class DeadLetterQueueSpec(SpecModel):
    """errors.deadletterqueue.*: where records that cannot be loaded go when tolerance is all."""

    topic: str | None = Field(
        default=None,
        min_length=1,
        description="Topic for failed records (errors.deadletterqueue.topic.name).",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replication of a created topic (errors.deadletterqueue.topic.replication.factor).",
    )
    context_headers: bool = Field(
        default=True, description="Add error context headers (errors.deadletterqueue.context.headers.enable)."
    )


class ErrorsSpec(SpecModel):
    """What happens when records or loads fail (errors.*, max.retries, retry.interval.ms, sink.maxretries)."""

    tolerance: ErrorTolerance = Field(
        default="none",
        description="none: a bad record stops the sink; all: it is skipped "
        "(and sent to the dead-letter topic)",
    )
    max_retries: int = Field(
        default=10,
        ge=-1,
        description="Retries of a failed load before the sink stops; -1: forever "
        "(max.retries / sink.maxretries).",
    )
    retry_interval_ms: int = Field(
        default=6000, ge=0, description="Wait between retries (retry.interval.ms)."
    )
    dead_letter_queue: DeadLetterQueueSpec = Field(
        default_factory=DeadLetterQueueSpec, description="Dead-letter topic."
    )
    log_errors: bool = Field(default=False, description="Log each tolerated error (errors.log.enable).")
    log_include_messages: bool = Field(
        default=False, description="Include the record in that log (errors.log.include.messages)."
    )

    @model_validator(mode="after")
    def _dlq_needs_tolerance(self) -> ErrorsSpec:
        if self.dead_letter_queue.topic is not None and self.tolerance != "all":
            raise_problems(
                [("deadLetterQueue.topic", "records reach the dead-letter topic only with tolerance: all")]
            )
        return self


class WorkerSpec(SpecModel):
    """Settings of the worker pods the operator runs."""

    image: str | None = Field(default=None, description="Worker image; default: the operator's own version.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="Image pull policy."
    )
    resources: dict[str, dict[str, str | int]] = Field(
        default_factory=dict, description="Container resources (requests/limits), as in a Pod spec."
    )
    env: list[dict[str, Any]] = Field(
        default_factory=list, description="Extra environment variables (EnvVar list)."
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="Pod nodeSelector.")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="Pod tolerations.")
    affinity: dict[str, Any] = Field(default_factory=dict, description="Pod affinity.")
    pod_annotations: dict[str, str] = Field(default_factory=dict, description="Extra pod annotations.")
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Extra pod labels.")
    service_account_name: str | None = Field(default=None, description="Pod service account.")
    priority_class_name: str | None = Field(default=None, description="Pod priority class.")
    metrics_port: int = Field(
        default=9404, ge=1, le=65535, description="Port of the Prometheus /metrics endpoint."
    )

    @field_validator("resources")
    @classmethod
    def _requests_and_limits(
        cls, resources: dict[str, dict[str, str | int]]
    ) -> dict[str, dict[str, str | int]]:
        unknown = set(resources) - {"requests", "limits"}
        if unknown:
            raise ValueError(f"only requests and limits are allowed, not {sorted(unknown)}")
        return resources

    @field_validator("env")
    @classmethod
    def _env_has_names(cls, env: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in env:
            if not isinstance(item.get("name"), str) or not item["name"]:
                raise ValueError("every env entry needs a name")
        return env


class AutoscalingSpec(SpecModel):
    """Lag-based scaling of replicas (the scale subresource is driven by the operator or KEDA)."""

    min_replicas: int = Field(default=1, ge=0, description="Lowest replica count.")
    max_replicas: int = Field(ge=1, description="Highest replica count (more than partitions is useless).")
    lag_per_replica: int = Field(
        default=100_000, gt=0, description="Target consumer lag per replica (records)."
    )
    scale_down_stabilization_seconds: int = Field(
        default=300, ge=0, description="Wait this long at lower lag before removing replicas."
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise_problems([("minReplicas", f"must not exceed maxReplicas ({self.max_replicas})")])
        return self


def check_time_zone(name: str) -> str:
    """An IANA zone name (database.time_zone), checked against the system tz database."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. UTC, Asia/Shanghai)") from None
    return name
