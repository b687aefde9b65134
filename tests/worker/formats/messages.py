"""Protobuf message types for the tests, built from descriptors (no protoc on these machines).

``order_types(version)`` gives ``Order`` (and ``Order.Line``) of ``olapsink.test.Order``: version 1, and
version 2 with one more optional field (``note``), the schema change producers make.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass

F = descriptor_pb2.FieldDescriptorProto


def _field(msg: Any, name: str, number: int, kind: int, type_name: str = "", repeated: bool = False) -> Any:
    f = msg.field.add(name=name, number=number, type=kind)
    f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    if type_name:
        f.type_name = type_name
    return f


def _optional(msg: Any, name: str, number: int, kind: int, type_name: str = "") -> None:
    """A proto3 ``optional`` field: explicit presence through a synthetic oneof."""
    f = _field(msg, name, number, kind, type_name)
    f.proto3_optional = True
    f.oneof_index = len(msg.oneof_decl)
    msg.oneof_decl.add(name=f"_{name}")


def order_file(version: int = 1) -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(
        name=f"order_v{version}.proto", package="olapsink.test", syntax="proto3"
    )
    fd.dependency.extend(
        [
            "google/protobuf/timestamp.proto",
            "google/protobuf/wrappers.proto",
            "google/type/date.proto",
            "google/type/timeofday.proto",
            "confluent/type/decimal.proto",
            "google/protobuf/struct.proto",
        ]
    )
    fd.enum_type.add(name="Status").value.extend(
        [descriptor_pb2.EnumValueDescriptorProto(name=n, number=i) for i, n in enumerate(["NEW", "PAID"])]
    )
    other = fd.message_type.add(name="Other")  # index 0: the framing must pick Order by its index
    _field(other, "x", 1, F.TYPE_INT32)
    order = fd.message_type.add(name="Order")
    _field(order, "id", 1, F.TYPE_INT64)
    _field(order, "city", 2, F.TYPE_STRING)
    _field(order, "created", 3, F.TYPE_MESSAGE, ".google.protobuf.Timestamp")
    _field(order, "day", 4, F.TYPE_MESSAGE, ".google.type.Date")
    _field(order, "at", 5, F.TYPE_MESSAGE, ".google.type.TimeOfDay")
    _field(order, "amount", 6, F.TYPE_MESSAGE, ".confluent.type.Decimal")
    _field(order, "status", 7, F.TYPE_ENUM, ".olapsink.test.Status")
    _field(order, "raw", 8, F.TYPE_BYTES)
    _optional(order, "discount", 9, F.TYPE_DOUBLE)
    _field(order, "coupon", 10, F.TYPE_MESSAGE, ".google.protobuf.StringValue")
    _field(order, "tags", 11, F.TYPE_STRING, repeated=True)
    line = order.nested_type.add(name="Line")
    _field(line, "sku", 1, F.TYPE_STRING)
    _field(line, "qty", 2, F.TYPE_INT32)
    _field(order, "lines", 12, F.TYPE_MESSAGE, ".olapsink.test.Order.Line", repeated=True)
    entry = order.nested_type.add(name="AttrsEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, F.TYPE_STRING)
    _field(entry, "value", 2, F.TYPE_INT64)
    _field(order, "attrs", 13, F.TYPE_MESSAGE, ".olapsink.test.Order.AttrsEntry", repeated=True)
    _field(order, "extra", 15, F.TYPE_MESSAGE, ".google.protobuf.Struct")
    if version >= 2:
        _optional(order, "note", 14, F.TYPE_STRING)
    return fd


@functools.cache  # one class per version: serializers check the type by identity
def order_types(version: int = 1) -> tuple[type[Any], type[Any]]:
    """(Order, Order.Line) classes of that version, each version in a pool of its own."""
    from confluent_kafka.schema_registry.common.protobuf import _init_pool

    pool = DescriptorPool()
    _init_pool(pool)
    pool.Add(order_file(version))
    order = GetMessageClass(pool.FindMessageTypeByName("olapsink.test.Order"))
    line = GetMessageClass(pool.FindMessageTypeByName("olapsink.test.Order.Line"))
    return order, line


@functools.cache
def invoice_type() -> type[Any]:
    """``olapsink.test.Invoice`` in invoice.proto, whose ``total`` is a ``Money`` from money.proto: a schema
    with a reference the serializer registers under its own subject."""
    from confluent_kafka.schema_registry.common.protobuf import _init_pool

    money = descriptor_pb2.FileDescriptorProto(name="money.proto", package="olapsink.common", syntax="proto3")
    m = money.message_type.add(name="Money")
    _field(m, "currency", 1, F.TYPE_STRING)
    _field(m, "cents", 2, F.TYPE_INT64)
    invoice = descriptor_pb2.FileDescriptorProto(
        name="invoice.proto", package="olapsink.test", syntax="proto3"
    )
    invoice.dependency.append("money.proto")
    i = invoice.message_type.add(name="Invoice")
    _field(i, "id", 1, F.TYPE_INT64)
    _field(i, "total", 2, F.TYPE_MESSAGE, ".olapsink.common.Money")
    pool = DescriptorPool()
    _init_pool(pool)
    pool.Add(money)
    pool.Add(invoice)
    return GetMessageClass(pool.FindMessageTypeByName("olapsink.test.Invoice"))
