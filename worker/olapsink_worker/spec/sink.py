"""The spec of a sink: the shared base and the Doris and StarRocks variants with their own defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from olapsink_worker.spec.base import SpecModel, raise_problems
from olapsink_worker.spec.database import DorisConnectionSpec, StarRocksConnectionSpec
from olapsink_worker.spec.kafka import KafkaSpec
from olapsink_worker.spec.sections import (
    AutoscalingSpec,
    BufferSpec,
    ConverterSpec,
    DeletesSpec,
    DeliveryGuarantee,
    DorisBufferSpec,
    DorisLoadSpec,
    ErrorsSpec,
    Flavor,
    LoadSpec,
    NullValues,
    SchemaEvolution,
    StarRocksBufferSpec,
    StarRocksLoadSpec,
    State,
    TableMapping,
    WorkerSpec,
    check_time_zone,
)
from olapsink_worker.tables import TableRef


class SinkSpecBase(SpecModel):
    """Everything a sink needs except the database connection, which each kind types on its own."""

    flavor: ClassVar[Flavor]

    state: State = Field(
        default="Running", description="Running, or Paused (workers stop consuming, keep offsets)."
    )
    replicas: int = Field(
        default=1,
        ge=0,
        description="Worker pods (scale subresource .spec.replicas). tasks.max in connectorConfig only "
        "sets it when this field is absent.",
    )
    kafka: KafkaSpec = Field(description="Kafka connection and topics.")
    tables: list[TableMapping] = Field(
        default_factory=list,
        description="topic → table map (topic2table.map). An unmapped topic loads into the table of its name",
    )
    table_field: str | None = Field(
        default=None,
        min_length=1,
        description="Record field whose value names the target table (record.tablename.field); "
        "records without it use the map.",
    )
    buffer: BufferSpec
    load: LoadSpec
    delivery_guarantee: DeliveryGuarantee = Field(
        default="at_least_once", description="delivery.guarantee (exactly_once needs Doris 2.1+ labels)."
    )
    deletes: DeletesSpec = Field(
        default_factory=DeletesSpec, description="Apply Debezium deletes (enable.delete)."
    )
    converter: ConverterSpec = Field(default_factory=ConverterSpec, description="Key and value decoding.")
    schema_evolution: SchemaEvolution = Field(
        default="none",
        description="basic: add columns that records have and the table lacks (debezium.schema.evolution).",
    )
    time_zone: str = Field(
        default="UTC", description="IANA zone for zoned Debezium times (database.time_zone)."
    )
    null_values: NullValues = Field(
        default="ignore",
        description="Null values (tombstones): skip, or stop the sink (behavior.on.null.values).",
    )
    errors: ErrorsSpec = Field(
        default_factory=ErrorsSpec, description="Retries, tolerance and dead-letter topic."
    )
    worker: WorkerSpec = Field(default_factory=WorkerSpec, description="Worker pod settings.")
    autoscaling: AutoscalingSpec | None = Field(default=None, description="Lag-based autoscaling; null: off.")
    connector_config: dict[str, str] = Field(
        default_factory=dict,
        description="Kafka Connect properties of the Doris or StarRocks connector, as their docs write them "
        "(string values; quote true/false). "
        "Translated into the typed fields; a key that contradicts a typed field is an error.",
    )

    @field_validator("tables")
    @classmethod
    def _each_topic_once(cls, tables: list[TableMapping]) -> list[TableMapping]:
        seen: set[str] = set()
        for mapping in tables:
            if mapping.topic in seen:
                raise ValueError(f"topic {mapping.topic!r} is mapped twice; a topic goes to one table")
            seen.add(mapping.topic)
        return tables

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        return check_time_zone(name)

    @field_validator("connector_config", mode="before")
    @classmethod
    def _stringify_values(cls, value: Any) -> Any:
        # YAML turns `buffer.flush.time: 120` into an int; the connectors only ever see strings. Booleans are
        # refused as the CRD schema refuses them, so `olapsink validate` fails where kubectl apply would.
        if isinstance(value, dict):
            booleans = [k for k, v in value.items() if isinstance(v, bool)]
            if booleans:
                raise ValueError(
                    f'write {", ".join(booleans)} as a quoted string ("true"/"false"): '
                    "the CRD accepts strings and numbers only"
                )
            return {k: str(v) if isinstance(v, int | float) else v for k, v in value.items()}
        return value

    @property
    def database(self) -> str:
        """The default database of the target tables."""
        raise NotImplementedError

    def target_for_topic(self, topic: str) -> TableRef:
        """The table a topic's records go to (before per-record routing by ``table_field``).

        An unmapped topic loads into the table named like the topic, as both connectors do.
        """
        for mapping in self.tables:
            if mapping.topic == topic:
                return TableRef.parse(mapping.table, self.database)
        return TableRef(self.database, topic)

    @model_validator(mode="after")
    def _cross_checks(self) -> SinkSpecBase:
        problems: list[tuple[str, str]] = []
        if self.delivery_guarantee == "exactly_once" and self.load.group_commit != "off":
            problems.append(
                ("load.groupCommit", "group commit loads have no labels, so exactly_once cannot use it")
            )
        if self.delivery_guarantee == "exactly_once" and self.load.two_phase_commit == "disabled":
            problems.append(("load.twoPhaseCommit", "exactly_once needs two-phase commit (auto or enabled)"))
        problems.extend(self._flavor_checks())
        raise_problems(problems)
        return self

    def _flavor_checks(self) -> list[tuple[str, str]]:
        return []


class DorisSinkSpec(SinkSpecBase):
    """Spec of a DorisSink: Doris connection, Doris buffer and load defaults."""

    flavor: ClassVar[Flavor] = "doris"

    doris: DorisConnectionSpec = Field(description="The Doris cluster.")
    buffer: DorisBufferSpec = Field(
        default_factory=DorisBufferSpec,
        description="Flush triggers (buffer.count.records 50000, "
        "buffer.size.bytes 100 MiB, buffer.flush.time 120s)",
    )
    load: DorisLoadSpec = Field(default_factory=DorisLoadSpec, description="Stream Load settings.")

    @property
    def database(self) -> str:
        return self.doris.database


class StarRocksSinkSpec(SinkSpecBase):
    """Spec of a StarRocksSink: StarRocks connection, StarRocks buffer and load defaults."""

    flavor: ClassVar[Flavor] = "starrocks"

    starrocks: StarRocksConnectionSpec = Field(description="The StarRocks cluster.")
    buffer: StarRocksBufferSpec = Field(
        default_factory=StarRocksBufferSpec,
        description="Flush triggers (bufferflush.maxbytes 64 MiB, bufferflush.intervalms 1000 ms).",
    )
    load: StarRocksLoadSpec = Field(default_factory=StarRocksLoadSpec, description="Stream Load settings.")

    @property
    def database(self) -> str:
        return self.starrocks.database

    def _flavor_checks(self) -> list[tuple[str, str]]:
        problems = []
        if self.schema_evolution == "basic" and self.starrocks.query_port is None:
            problems.append(("starrocks.queryPort", "schemaEvolution basic needs the query port"))
        merge_commit = self.load.properties.get("enable_merge_commit", "").lower() == "true"
        if merge_commit and self.delivery_guarantee == "exactly_once":
            problems.append(
                (
                    "load.properties",
                    "enable_merge_commit loads have server-made labels, so exactly_once cannot use them",
                )
            )
        return problems
