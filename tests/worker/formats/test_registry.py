import json
import shutil
import subprocess

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from olapsink_worker.errors import ConfigError, RegistryConfigError
from olapsink_worker.formats import value_decoder
from olapsink_worker.formats.registry import client_config
from olapsink_worker.spec import ConverterSpec

from tests.schema_registry.fixtures import USER_INFO
from tests.schema_registry.server import SchemaRegistryServer
from tests.worker.formats.avro_schemas import ORDER_V1, order
from tests.worker.formats.messages import order_types
from tests.worker.formats.producers import avro_producer, protobuf_producer, raw_avro


def _converter(**fields):
    return ConverterSpec.model_validate(fields)


@pytest.fixture
def secrets(tmp_path):
    (tmp_path / "sr").mkdir()
    (tmp_path / "sr" / "userinfo").write_text(USER_INFO + "\n")
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return {"OLAPSINK_SECRETS_DIR": str(tmp_path)}


def test_client_config_from_the_spec_reads_secrets_from_their_mounts(secrets, tmp_path):
    conv = _converter(
        valueFormat="avro",
        schemaRegistry={
            "url": "https://sr:8081",
            "basicAuthSecretRef": {"name": "sr", "key": "userinfo"},
            "tls": {"caSecretRef": {"name": "ca", "key": "ca.crt"}},
        },
    )
    conf = client_config(conv.schema_registry, secrets)
    assert conf["url"] == "https://sr:8081"
    assert conf["basic.auth.user.info"] == USER_INFO
    assert conf["ssl.ca.location"] == str(tmp_path / "ca" / "ca.crt")
    assert conf["timeout"] > 0


def test_user_info_without_a_colon_is_a_config_error_naming_the_field(secrets, tmp_path):
    (tmp_path / "sr" / "userinfo").write_text("just-a-token")
    conv = _converter(
        valueFormat="avro",
        schemaRegistry={"url": "http://sr", "basicAuthSecretRef": {"name": "sr", "key": "userinfo"}},
    )
    with pytest.raises(ConfigError) as err:
        client_config(conv.schema_registry, secrets)
    assert err.value.problems[0].path == "spec.converter.schemaRegistry.basicAuthSecretRef"


def test_missing_ca_and_skip_hostname_verification_are_config_errors(secrets):
    missing = _converter(
        valueFormat="avro",
        schemaRegistry={"url": "https://sr", "tls": {"caSecretRef": {"name": "x", "key": "y"}}},
    )
    with pytest.raises(ConfigError, match="caSecretRef"):
        client_config(missing.schema_registry, secrets)
    skip = _converter(
        valueFormat="avro", schemaRegistry={"url": "https://sr", "tls": {"skipHostnameVerification": True}}
    )
    with pytest.raises(ConfigError, match="skipHostnameVerification"):
        client_config(skip.schema_registry, secrets)


def test_value_decoder_for_avro_with_registry(schema_registry, secrets):
    conv = _converter(
        valueFormat="avro",
        schemaRegistry={"url": schema_registry.url, "basicAuthSecretRef": {"name": "sr", "key": "userinfo"}},
    )
    value = avro_producer(schema_registry, ORDER_V1, "f-avro")(order(3))
    assert json.loads(value_decoder(conv, secrets)(value, "f-avro"))["id"] == 3


def test_value_decoder_for_protobuf(schema_registry, secrets):
    conv = _converter(
        valueFormat="protobuf",
        schemaRegistry={"url": schema_registry.url, "basicAuthSecretRef": {"name": "sr", "key": "userinfo"}},
    )
    order_type, _ = order_types(1)
    value = protobuf_producer(schema_registry, order_type, "f-pb")(order_type(id=9))
    assert json.loads(value_decoder(conv, secrets)(value, "f-pb"))["id"] == 9


def test_schema_files_for_their_topics_registry_for_the_rest(schema_registry, secrets, tmp_path):
    path = tmp_path / "raw.avsc"
    path.write_text(json.dumps(ORDER_V1))
    conv = _converter(
        valueFormat="avro",
        avroSchemaFiles={"raw": f"file://{path}"},
        schemaRegistry={"url": schema_registry.url, "basicAuthSecretRef": {"name": "sr", "key": "userinfo"}},
    )
    decoder = value_decoder(conv, secrets)
    assert json.loads(decoder(raw_avro(ORDER_V1, order(1)), "raw"))["id"] == 1
    framed = avro_producer(schema_registry, ORDER_V1, "framed")(order(2))
    assert json.loads(decoder(framed, "framed"))["id"] == 2


def test_debezium_mode_with_protobuf_is_a_config_error(schema_registry, secrets):
    conv = _converter(
        valueFormat="protobuf", mode="debezium_ingestion", schemaRegistry={"url": schema_registry.url}
    )
    with pytest.raises(ConfigError) as err:
        value_decoder(conv, secrets)
    assert err.value.problems[0].path == "spec.converter.mode"


def test_debezium_mode_with_avro_files_reads_them(tmp_path):
    schema = {"type": "record", "name": "r", "fields": [{"name": "id", "type": "int"}]}
    (tmp_path / "x.avsc").write_text(json.dumps(schema))
    conv = _converter(
        valueFormat="avro", avroSchemaFiles={"t": str(tmp_path / "x.avsc")}, mode="debezium_ingestion"
    )
    assert json.loads(value_decoder(conv)(b"\x06", "t")) == {"id": 3}


def _self_signed(directory):
    """A certificate for 127.0.0.1 that is its own CA (openssl, as on every machine here)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_registry_over_tls_with_the_ca_from_the_spec(tmp_path):
    cert, key = _self_signed(tmp_path)
    (tmp_path / "sr-ca").mkdir()
    shutil.copy(cert, tmp_path / "sr-ca" / "ca.crt")
    env = {"OLAPSINK_SECRETS_DIR": str(tmp_path)}
    server = SchemaRegistryServer(tls=(str(cert), str(key)))
    try:
        conv = _converter(
            valueFormat="avro",
            schemaRegistry={"url": server.url, "tls": {"caSecretRef": {"name": "sr-ca", "key": "ca.crt"}}},
        )
        producer_client = SchemaRegistryClient({"url": server.url, "ssl.ca.location": str(cert)})
        value = AvroSerializer(producer_client, json.dumps(ORDER_V1))(
            order(5), SerializationContext("t", MessageField.VALUE)
        )
        assert json.loads(value_decoder(conv, env)(value, "t"))["id"] == 5
        untrusting = _converter(valueFormat="avro", schemaRegistry={"url": server.url})
        with pytest.raises(RegistryConfigError, match=r"CERTIFICATE_VERIFY_FAILED") as err:
            value_decoder(untrusting, env)(value, "t")
        assert "spec.converter.schemaRegistry.tls.caSecretRef" in str(err.value)
    finally:
        server.close()
