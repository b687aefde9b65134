"""spec.converter.avroSchemaConfigMap and the avroSchemaFiles paths it holds: what the spec accepts."""

from __future__ import annotations

from typing import Any

import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import parse_manifest


def avro_doc(doc: dict[str, Any], files: dict[str, str], config_map: str | None = None) -> dict[str, Any]:
    converter: dict[str, Any] = {"valueFormat": "avro", "avroSchemaFiles": files}
    if config_map is not None:
        converter["avroSchemaConfigMap"] = config_map
    doc["spec"]["converter"] = converter
    return doc


def problems_of(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_manifest(doc)
    return {p.path: p.message for p in caught.value.problems}


def test_config_map_without_avro_schema_files_is_an_error_naming_the_field(doris_doc: dict[str, Any]) -> None:
    doris_doc["spec"]["converter"] = {"avroSchemaConfigMap": "orders-avro"}
    problems = problems_of(doris_doc)
    assert "needs valueFormat: avro and avroSchemaFiles" in problems["spec.converter.avroSchemaConfigMap"]


def test_relative_path_with_a_directory_is_no_config_map_key(doris_doc: dict[str, Any]) -> None:
    files = {"orders": "schemas/orders.avsc", "refunds": "refunds.avsc", "items": "/opt/items.avsc"}
    problems = problems_of(avro_doc(doris_doc, files, config_map="orders-avro"))
    assert list(problems) == ["spec.converter.avroSchemaFiles.orders"]
    assert "key of ConfigMap orders-avro" in problems["spec.converter.avroSchemaFiles.orders"]
    assert "'orders.avsc'" in problems["spec.converter.avroSchemaFiles.orders"]


def test_config_map_name_must_be_a_kubernetes_name(doris_doc: dict[str, Any]) -> None:
    problems = problems_of(avro_doc(doris_doc, {"orders": "orders.avsc"}, config_map="Orders_Avro"))
    assert "should match pattern" in problems["spec.converter.avroSchemaConfigMap"]
