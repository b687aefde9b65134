"""The sink spec: typed, documented models of DorisSink and StarRocksSink (olapsink.io/v1alpha1).

Everyone codes against these names; Kafka Connect property names live only in ``compat``.
"""

from olapsink_worker.spec.base import SecretKeyRef
from olapsink_worker.spec.database import DorisConnectionSpec, DorisTlsSpec, StarRocksConnectionSpec
from olapsink_worker.spec.kafka import KafkaSecuritySpec, KafkaSpec, KafkaTlsSpec, SaslSpec
from olapsink_worker.spec.manifest import (
    API_VERSION,
    GROUP,
    KINDS,
    VERSION,
    DorisSink,
    ObjectMeta,
    Sink,
    StarRocksSink,
    default_label_prefix,
    load_manifest_file,
    parse_manifest,
)
from olapsink_worker.spec.sections import (
    LABEL_MAX_LENGTH,
    LABEL_PATTERNS,
    LABEL_PREFIX_MAX_LENGTH,
    AutoscalingSpec,
    BufferSpec,
    ConverterSpec,
    DeadLetterQueueSpec,
    DeletesSpec,
    ErrorsSpec,
    Flavor,
    LoadSpec,
    SchemaRegistrySpec,
    TableMapping,
    TimeMillisToStringSpec,
    WorkerSpec,
)
from olapsink_worker.spec.sink import (
    DorisSinkSpec,
    SinkSpecBase,
    StarRocksSinkSpec,
)
from olapsink_worker.spec.status import Condition, LagStatus, SinkStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "LABEL_MAX_LENGTH",
    "LABEL_PATTERNS",
    "LABEL_PREFIX_MAX_LENGTH",
    "VERSION",
    "AutoscalingSpec",
    "BufferSpec",
    "Condition",
    "ConverterSpec",
    "DeadLetterQueueSpec",
    "DeletesSpec",
    "DorisConnectionSpec",
    "DorisSink",
    "DorisSinkSpec",
    "DorisTlsSpec",
    "ErrorsSpec",
    "Flavor",
    "KafkaSecuritySpec",
    "KafkaSpec",
    "KafkaTlsSpec",
    "LagStatus",
    "LoadSpec",
    "ObjectMeta",
    "SaslSpec",
    "SchemaRegistrySpec",
    "SecretKeyRef",
    "Sink",
    "SinkSpecBase",
    "SinkStatus",
    "StarRocksConnectionSpec",
    "StarRocksSink",
    "StarRocksSinkSpec",
    "TableMapping",
    "TimeMillisToStringSpec",
    "WorkerSpec",
    "default_label_prefix",
    "load_manifest_file",
    "parse_manifest",
]
