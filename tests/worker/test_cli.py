"""`olapsink convert` on each seed example gives a manifest `olapsink validate` accepts; errors have paths."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from olapsink_worker.cli import main
from olapsink_worker.spec import DorisSink, StarRocksSink, parse_manifest

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def convert_and_validate(tmp_path: Path, seed: str, *extra: str | Path) -> tuple[dict[str, Any], str, str]:
    """Convert a seed file, check `olapsink validate` accepts the output, return (manifest, text, stderr)."""
    target = tmp_path / "sink.yaml"
    code, _, err = run("convert", SEEDS / seed, "-o", target, *extra)
    assert code == 0, err
    code, out, verr = run("validate", target)
    assert code == 0, verr
    assert "is valid" in out
    text = target.read_text()
    return yaml.safe_load(text), text, err


def test_doris_standalone_properties_with_worker_file(tmp_path: Path) -> None:
    doc, _, err = convert_and_validate(
        tmp_path,
        "doris_standalone_doris-connector-sink.properties",
        "--worker",
        SEEDS / "doris_standalone_connect-standalone.properties",
    )
    sink = parse_manifest(doc)
    assert isinstance(sink, DorisSink)
    assert sink.metadata.name == "test-doris-sink"
    assert sink.spec.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert sink.spec.kafka.topics == ["topic_test"]
    assert str(sink.spec.target_for_topic("topic_test")) == "test_db.test_kafka_tbl"
    assert (sink.spec.buffer.records, sink.spec.buffer.bytes, sink.spec.buffer.flush_interval_ms) == (
        10000,
        5000000,
        120_000,
    )
    assert sink.spec.doris.fe_hosts == ["10.10.10.1"]
    assert (sink.spec.doris.http_port, sink.spec.doris.query_port, sink.spec.doris.user) == (
        8030,
        9030,
        "root",
    )
    assert sink.spec.doris.password_secret_ref is None  # doris.password= (empty)
    assert (sink.spec.converter.key_format, sink.spec.converter.value_format) == (
        "string",
        "json_with_schema",
    )
    assert "schemas.enable=false" in err  # the JsonConverter default is explained


def test_doris_rest_json_add_connector(tmp_path: Path) -> None:
    doc, _, _ = convert_and_validate(
        tmp_path, "doris_distributed_add-connector.sh", "--bootstrap-servers", "kafka:9092"
    )
    sink = parse_manifest(doc)
    assert isinstance(sink, DorisSink)
    assert sink.metadata.name == "test-doris-sink-cluster"
    assert sink.spec.kafka.bootstrap_servers == "kafka:9092"
    assert sink.spec.doris.database == "test_db"
    assert sink.spec.buffer.records == 10000


@pytest.mark.parametrize(
    ("seed", "name", "fmt", "registry"),
    [
        ("doris_best-practice_json.sh", "doris-json-test", "json_with_schema", None),
        ("doris_best-practice_avro.sh", "doris-avro-test", "avro", "http://127.0.0.1:8081"),
        ("doris_best-practice_protobuf.sh", "doris-protobuf-test", "protobuf", "http://127.0.0.1:8081"),
    ],
)
def test_doris_best_practice_examples(
    tmp_path: Path, seed: str, name: str, fmt: str, registry: str | None
) -> None:
    doc, _, _ = convert_and_validate(tmp_path, seed, "--bootstrap-servers", "kafka:9092")
    sink = parse_manifest(doc)
    assert isinstance(sink, DorisSink)
    assert sink.metadata.name == name
    assert sink.spec.replicas == 10  # tasks.max
    assert sink.spec.buffer.records == 100000 and sink.spec.buffer.bytes == 10000000
    assert sink.spec.converter.value_format == fmt
    assert sink.spec.converter.key_format == fmt
    assert sink.spec.converter.schema_registry.url == registry
    assert sink.spec.doris.database == "test"


def test_starrocks_standalone_properties(tmp_path: Path) -> None:
    doc, text, err = convert_and_validate(
        tmp_path,
        "starrocks_standalone_connect-starrocks-sink.properties",
        "--worker",
        SEEDS / "starrocks_standalone_connect-standalone.properties",
    )
    sink = parse_manifest(doc)
    assert isinstance(sink, StarRocksSink)
    assert sink.metadata.name == "starrocks-kafka-connector"
    assert sink.spec.starrocks.http_urls == ["192.168.xxx.xxx:8030"]
    assert sink.spec.starrocks.user == "user1"
    assert sink.spec.starrocks.database == "example_db"
    assert str(sink.spec.target_for_topic("test")) == "example_db.test_tbl"
    assert sink.spec.load.properties == {"strip_outer_array": "true"}
    assert (sink.spec.converter.key_format, sink.spec.converter.value_format) == ("json_with_schema", "json")
    assert sink.spec.buffer.bytes == 64 * 1024 * 1024  # StarRocks default kept
    # The literal password became a Secret reference and is nowhere in the output.
    ref = sink.spec.starrocks.password_secret_ref
    assert ref is not None and (ref.name, ref.key) == ("starrocks-kafka-connector-starrocks", "password")
    assert "123456" not in text and "123456" not in err
    assert "kind: Secret" in text and "create Secret starrocks-kafka-connector-starrocks" in err


def test_starrocks_rest_json(tmp_path: Path) -> None:
    doc, text, _ = convert_and_validate(
        tmp_path, "starrocks_distributed_add-connector.sh", "--bootstrap-servers", "kafka:9092"
    )
    sink = parse_manifest(doc)
    assert isinstance(sink, StarRocksSink)
    assert sink.spec.kafka.topics == ["test"]
    assert sink.spec.starrocks.password_secret_ref is not None
    assert "123456" not in text


def test_starrocks_debezium_postgres_sink(tmp_path: Path) -> None:
    doc, text, _ = convert_and_validate(
        tmp_path, "starrocks_debezium_sr-sink.json", "--bootstrap-servers", "kafka:9092", "--namespace", "cdc"
    )
    sink = parse_manifest(doc)
    assert isinstance(sink, StarRocksSink)
    assert sink.metadata.namespace == "cdc"
    assert sink.spec.converter.mode == "debezium_ingestion"
    assert sink.spec.deletes.enabled is True  # addfield before unwrap, delete.handling.mode=rewrite
    assert sink.spec.starrocks.connect_timeout_ms == 3000
    assert str(sink.spec.target_for_topic("test.public.customers")) == "test.customers"
    assert "StarRocks@123" not in text


def test_debezium_source_connector_is_refused() -> None:
    code, _, err = run(
        "convert", SEEDS / "starrocks_debezium_pg-source.json", "--bootstrap-servers", "k:9092"
    )
    assert code == 1
    assert "connector.class" in err and "PostgresConnector" in err


def test_doc_placeholders_in_worker_file_are_named() -> None:
    code, _, err = run(
        "convert",
        SEEDS / "starrocks_debezium_sr-sink.json",
        "--worker",
        SEEDS / "starrocks_debezium_connect-standalone.properties",
    )
    assert code == 1
    assert "bufferflush.maxbytes: 'xxx' is not a whole number" in err
    assert "bufferflush.intervalms: 'xxx' is not a whole number" in err


def test_jks_truststore_says_what_to_use_instead() -> None:
    code, _, err = run(
        "convert",
        SEEDS / "doris_distributed_add-connector.sh",
        "--worker",
        SEEDS / "doris_ssl_connect-distributed.properties",
        "--bootstrap-servers",
        "k:9093",
    )
    assert code == 1
    assert "ssl.truststore.location: not supported" in err
    assert "consumer.ssl.truststore.location: not supported" in err
    assert "caSecretRef" in err


def test_dead_letter_queue_snippet_is_typed(tmp_path: Path) -> None:
    base = (SEEDS / "doris_standalone_doris-connector-sink.properties").read_text()
    dlq = (SEEDS / "doris_dead-letter-queue.properties").read_text()
    source = tmp_path / "with-dlq.properties"
    source.write_text(base + dlq)
    target = tmp_path / "sink.yaml"
    code, _, err = run("convert", source, "--bootstrap-servers", "k:9092", "-o", target)
    assert code == 0, err
    sink = parse_manifest(yaml.safe_load(target.read_text()))
    assert sink.spec.errors.tolerance == "all"
    assert sink.spec.errors.dead_letter_queue.topic == "test_error_topic"
    assert sink.spec.errors.dead_letter_queue.replication_factor == 1
    assert sink.spec.errors.dead_letter_queue.context_headers is True


def test_missing_bootstrap_servers_gives_a_hint() -> None:
    code, _, err = run("convert", SEEDS / "doris_distributed_add-connector.sh")
    assert code == 1
    assert "spec.kafka.bootstrapServers: required field is missing" in err
    assert "--worker" in err


def test_resume_connect_offsets_uses_the_connect_group(tmp_path: Path) -> None:
    doc, _, _ = convert_and_validate(
        tmp_path,
        "doris_distributed_add-connector.sh",
        "--bootstrap-servers",
        "k:9092",
        "--resume-connect-offsets",
    )
    assert parse_manifest(doc).effective_group_id == "connect-test-doris-sink-cluster"


def test_validate_prints_every_problem_with_its_path(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        """
apiVersion: olapsink.io/v1alpha1
kind: DorisSink
metadata: {name: bad}
spec:
  kafka: {bootstrapServers: "k:9092", topics: [a], topicsRegex: "^a"}
  doris: {feHosts: [fe1]}
  buffer: {records: -1}
  load: {labelPrefix: "a.b"}
  tables: [{topic: a}]
  connectorConfig: {"doris.passwrd": "x"}
"""
    )
    code, _, err = run("validate", manifest)
    assert code == 1
    for path in (
        "spec.kafka.topicsRegex",
        "spec.doris.database",
        "spec.buffer.records",
        "spec.load.labelPrefix",
        "spec.tables[0].table",
        'spec.connectorConfig["doris.passwrd"]',
    ):
        assert f"{path}: " in err, path
    assert "did you mean 'doris.password'" in err


def test_validate_reads_multi_document_files(tmp_path: Path) -> None:
    target = tmp_path / "sink.yaml"
    run(
        "convert", SEEDS / "doris_distributed_add-connector.sh", "--bootstrap-servers", "k:9092", "-o", target
    )
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    both = tmp_path / "both.yaml"
    both.write_text(secret + "---\n" + target.read_text())
    code, out, _ = run("validate", both)
    assert code == 0 and "DorisSink default/test-doris-sink-cluster is valid" in out


def test_validate_without_a_sink_fails(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    code, _, err = run("validate", other)
    assert code == 1 and "no DorisSink or StarRocksSink" in err


def test_console_script_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "sink.yaml"
    run("convert", SEEDS / "doris_best-practice_json.sh", "--bootstrap-servers", "k:9092", "-o", target)
    done = subprocess.run(
        [sys.executable, "-m", "olapsink_worker.cli", "validate", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "DorisSink default/doris-json-test is valid" in done.stdout
    assert done.stderr == ""


def test_convert_of_broken_json_reports_instead_of_crashing(tmp_path: Path) -> None:
    source = tmp_path / "connector.json"
    source.write_text('{"name": "x", "config": {')
    code, out, err = run("convert", source)
    assert code == 1
    assert out == ""
    assert "not valid JSON" in err
