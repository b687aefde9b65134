"""Confluent's wire format: ``0x00``, the schema id as 4 big-endian bytes, then the encoded value.

Protobuf values carry one more thing between the id and the message: the path of the message type inside
its ``.proto`` file, as a zig-zag varint count followed by that many zig-zag varint indexes, where the
single byte ``0x00`` is short for ``[0]`` (the first message in the file).
"""

from __future__ import annotations

from olapsink_worker.errors import RecordError

MAGIC_BYTE = 0
_HEADER = 5


def split_frame(value: bytes) -> tuple[int, memoryview]:
    """The schema id and the encoded bytes after it; RecordError when the value is not framed."""
    if len(value) < _HEADER or value[0] != MAGIC_BYTE:
        first = f"0x{value[0]:02x}" if value else "nothing"
        raise RecordError(
            f"value is not in the Confluent wire format (starts with {first}, expected magic byte 0x00 "
            "and a 4-byte schema id); was it written by a schema-registry serializer? Raw Avro needs "
            "spec.converter.avroSchemaFiles instead of schemaRegistry"
        )
    return int.from_bytes(value[1:_HEADER], "big"), memoryview(value)[_HEADER:]


def _zigzag_varint(data: memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise RecordError("Protobuf message-index header ends early")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise RecordError("Protobuf message-index header has an over-long varint")


def split_message_indexes(payload: memoryview) -> tuple[list[int], memoryview]:
    """The message-type path and the Protobuf message bytes after it."""
    count, pos = _zigzag_varint(payload, 0)
    if count == 0:
        return [0], payload[pos:]
    if count < 0 or count > 64:
        raise RecordError(f"Protobuf message-index header claims {count} indexes")
    indexes = []
    for _ in range(count):
        index, pos = _zigzag_varint(payload, pos)
        indexes.append(index)
    return indexes, payload[pos:]


def avro_schema_key(value: bytes) -> int | None:
    """The registry id of a framed Avro value (what identifies its writer schema), or None."""
    if len(value) < _HEADER or value[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(value[1:_HEADER], "big")


def protobuf_schema_key(value: bytes) -> tuple[int, tuple[int, ...]] | None:
    """The registry id and message-index path of a framed Protobuf value (its message type), or None."""
    if len(value) < _HEADER + 1 or value[0] != MAGIC_BYTE:
        return None
    try:
        indexes, _ = split_message_indexes(memoryview(value)[_HEADER:])
    except RecordError:
        return None
    return int.from_bytes(value[1:_HEADER], "big"), tuple(indexes)
