"""Confluent serializers against the test registry: what a producer writes, byte for byte."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.schema_registry.fixtures import USER_INFO


def registry_client(registry: Any) -> SchemaRegistryClient:
    # No retries: a test of an unavailable registry should fail fast.
    return SchemaRegistryClient({"url": registry.url, "basic.auth.user.info": USER_INFO, "max.retries": 0})


def avro_producer(registry: Any, schema: dict[str, Any], topic: str) -> Callable[[dict[str, Any]], bytes]:
    serializer = AvroSerializer(registry_client(registry), json.dumps(schema))
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda record: serializer(record, ctx)


def protobuf_producer(registry: Any, message_type: type[Any], topic: str) -> Callable[[Any], bytes]:
    serializer = ProtobufSerializer(message_type, registry_client(registry), {"use.deprecated.format": False})
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda message: serializer(message, ctx)


def raw_avro(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """Plain Avro binary, no framing (what DorisAvroConverter reads)."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()
