"""Where a worker finds a relative spec.converter.avroSchemaFiles path: in ``$OLAPSINK_AVRO_SCHEMA_DIR``,
which the operator points at its mount of avroSchemaConfigMap (and a person running the worker by hand at
any directory); never in the working directory."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from olapsink_worker.decode import Decoder
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import parse_manifest

from tests.worker.spec.test_avro_schema_files import avro_doc

SCHEMA = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}],
}


def raw_avro(record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    return out.getvalue()


def test_relative_path_decodes_raw_avro_from_the_schema_dir(
    doris_doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "orders.avsc").write_text(json.dumps(SCHEMA))
    sink = parse_manifest(avro_doc(doris_doc, {"orders": "orders.avsc"}, config_map="orders-avro"))
    monkeypatch.setenv("OLAPSINK_AVRO_SCHEMA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)  # the working directory plays no part
    decoder = Decoder.for_sink(sink)
    row = decoder.decode(raw_avro({"id": 7, "item": "tea"}), "orders")
    assert row is not None
    assert json.loads(row) == {"id": 7, "item": "tea"}


def test_file_url_and_absolute_paths_ignore_the_schema_dir(
    doris_doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "orders.avsc").write_text(json.dumps(SCHEMA))
    files = {"orders": f"file://{tmp_path}/orders.avsc", "refunds": f"{tmp_path}/orders.avsc"}
    sink = parse_manifest(avro_doc(doris_doc, files, config_map="orders-avro"))
    monkeypatch.setenv("OLAPSINK_AVRO_SCHEMA_DIR", str(tmp_path / "elsewhere"))
    decoder = Decoder.for_sink(sink)
    for topic in files:
        row = decoder.decode(raw_avro({"id": 1, "item": "x"}), topic)
        assert row is not None and json.loads(row)["id"] == 1


def test_relative_path_without_a_schema_dir_is_an_error_naming_the_topic(
    doris_doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "orders.avsc").write_text(json.dumps(SCHEMA))
    sink = parse_manifest(avro_doc(doris_doc, {"orders": "orders.avsc"}))
    monkeypatch.delenv("OLAPSINK_AVRO_SCHEMA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # a file of that name in the working directory is not used
    with pytest.raises(ConfigError) as caught:
        Decoder.for_sink(sink)
    (problem,) = caught.value.problems
    assert problem.path == "spec.converter.avroSchemaFiles.orders"
    assert "OLAPSINK_AVRO_SCHEMA_DIR is not set" in problem.message


def test_missing_file_in_the_schema_dir_names_the_resolved_path(
    doris_doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = parse_manifest(avro_doc(doris_doc, {"orders": "orders.avsc"}, config_map="orders-avro"))
    monkeypatch.setenv("OLAPSINK_AVRO_SCHEMA_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        Decoder.for_sink(sink)
    (problem,) = caught.value.problems
    assert problem.path == "spec.converter.avroSchemaFiles.orders"
    assert f"cannot read {tmp_path / 'orders.avsc'}" in problem.message
