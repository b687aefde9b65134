"""A sink whose Avro schema file is missing or broken does not start; the status says which topic."""

import json

import yaml
from olapsink_worker.main import EXIT_CONFIG, main


def _manifest(tmp_path, files):
    doc = {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": "DorisSink",
        "metadata": {"name": "avro-files"},
        "spec": {
            "kafka": {"bootstrapServers": "127.0.0.1:9", "topics": ["users", "products"]},
            "doris": {"feHosts": ["127.0.0.1"], "httpPort": 9, "user": "root", "database": "db"},
            "converter": {"valueFormat": "avro", "avroSchemaFiles": files},
        },
    }
    path = tmp_path / "sink.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_missing_and_broken_schema_files_stop_the_worker_naming_each_topic(tmp_path, monkeypatch):
    monkeypatch.setenv("OLAPSINK_DB_PASSWORD", "")
    (tmp_path / "products.avsc").write_text('{"type": "record", "name": "P", "fields": [{"name": "id"}]}')
    config = _manifest(
        tmp_path, {"users": str(tmp_path / "users.avsc"), "products": str(tmp_path / "products.avsc")}
    )
    status = tmp_path / "status.json"
    code = main(["--config", str(config), "--status-file", str(status), "--metrics-port", "0"])
    assert code == EXIT_CONFIG
    message = json.loads(status.read_text())["message"]
    assert "spec.converter.avroSchemaFiles.users: cannot read" in message
    assert "spec.converter.avroSchemaFiles.products" in message and "not a usable Avro schema" in message
