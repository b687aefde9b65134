"""Avro and Protobuf record values → JSON rows (the row shape the JSON paths produce).

``value_decoder(spec.converter)`` picks the decoder once per sink; it is a callable
``(value bytes, topic) → row bytes`` that raises ``RecordError`` for a value it cannot turn into a row.
See docs/formats.md for the conversions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from olapsink_worker.errors import ConfigError, ConfigProblem

RowDecoder = Callable[[bytes, "str | None"], bytes]
SCHEMA_FORMATS = frozenset({"avro", "protobuf"})


def value_decoder(converter: Any, env: Mapping[str, str] | None = None, time_zone: str = "UTC") -> RowDecoder:
    """The decoder for ``converter.valueFormat`` avro or protobuf; ConfigError for what cannot work.

    In ``debezium_ingestion`` mode (Avro only) Debezium's types are converted by their ``connect.name``,
    zoned ones to ``time_zone``; the envelope is unwrapped by the caller (decode.Decoder)."""
    value_format = str(converter.value_format)
    if value_format not in SCHEMA_FORMATS:
        problem = f"{value_format!r} is not avro/protobuf"
        raise ConfigError(ConfigProblem("spec.converter.valueFormat", problem))
    debezium = str(converter.mode) == "debezium_ingestion"
    if str(converter.mode) != "normal" and not (debezium and value_format == "avro"):
        raise ConfigError(
            ConfigProblem(
                "spec.converter.mode",
                f"{converter.mode} with {value_format} values is not supported yet; flatten the change "
                "events upstream (ExtractNewRecordState) and use mode: normal, or use avro or "
                "json_with_schema values",
            )
        )
    registry = converter.schema_registry
    if value_format == "avro":
        from olapsink_worker.connect_types import zone_named
        from olapsink_worker.formats.avro import AvroRegistryDecoder, load_schema_files

        zone = zone_named(time_zone) if debezium else None
        fallback = None
        if registry.url:
            from olapsink_worker.formats.registry import registry_client

            fallback = AvroRegistryDecoder(registry_client(registry, env, retries=0), zone, url=registry.url)
        if converter.avro_schema_files:
            files = converter.avro_schema_files
            return load_schema_files(files, debezium_zone=zone).with_fallback(fallback)
        if fallback is None:
            raise ConfigError(
                ConfigProblem(
                    "spec.converter.valueFormat", "avro needs schemaRegistry.url or avroSchemaFiles"
                )
            )
        return fallback
    from olapsink_worker.formats.protobuf import ProtobufRegistryDecoder
    from olapsink_worker.formats.registry import registry_client

    return ProtobufRegistryDecoder(registry_client(registry, env, retries=0), url=registry.url)
