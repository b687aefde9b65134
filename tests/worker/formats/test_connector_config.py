"""From the connectors' converter properties (as in the seed docs) to a working decoder."""

import json

import pytest
from olapsink_worker.formats import value_decoder
from olapsink_worker.spec import ConverterSpec
from olapsink_worker.spec.compat import translate

from tests.schema_registry.fixtures import USER_INFO
from tests.worker.formats.avro_schemas import ORDER_V1, order
from tests.worker.formats.messages import order_types
from tests.worker.formats.producers import avro_producer, protobuf_producer, raw_avro


def _converter(props, registry_auth=False):
    translation = translate("doris", props)
    assert translation.problems == []
    spec = translation.spec["converter"]
    if registry_auth:
        # The test registry wants basic auth, which the seeds don't use: the Secret ref is the spec's own.
        spec["schemaRegistry"]["basicAuthSecretRef"] = {"name": "sr", "key": "userinfo"}
    return ConverterSpec.model_validate(spec)


@pytest.fixture
def env(tmp_path):
    (tmp_path / "sr").mkdir()
    (tmp_path / "sr" / "userinfo").write_text(USER_INFO)
    return {"OLAPSINK_SECRETS_DIR": str(tmp_path)}


def test_confluent_avro_converter_with_registry_url(schema_registry, env):
    value = avro_producer(schema_registry, ORDER_V1, "avro_topic")(order(1))
    props = {
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": schema_registry.url,
    }
    decoder = value_decoder(_converter(props, registry_auth=True), env)
    assert json.loads(decoder(value, "avro_topic"))["id"] == 1


def test_confluent_protobuf_converter_with_registry_url(schema_registry, env):
    order_type, _ = order_types(1)
    value = protobuf_producer(schema_registry, order_type, "pb_topic")(order_type(id=3))
    props = {
        "value.converter": "io.confluent.connect.protobuf.ProtobufConverter",
        "value.converter.schema.registry.url": schema_registry.url,
    }
    decoder = value_decoder(_converter(props, registry_auth=True), env)
    assert json.loads(decoder(value, "pb_topic"))["id"] == 3


def test_doris_avro_converter_with_topic2schema_files(tmp_path):
    for name in ("user", "product"):
        (tmp_path / f"avro_{name}.avsc").write_text(json.dumps({**ORDER_V1, "name": name.title()}))
    files = f"avro-user:file://{tmp_path}/avro_user.avsc, avro-product:file://{tmp_path}/avro_product.avsc"
    props = {
        "value.converter": "org.apache.doris.kafka.connector.decode.avro.DorisAvroConverter",
        "value.converter.avro.topic2schema.filepath": files,
    }
    decoder = value_decoder(_converter(props))
    assert json.loads(decoder(raw_avro(ORDER_V1, order(2)), "avro-product"))["id"] == 2
    assert json.loads(decoder(raw_avro(ORDER_V1, order(3)), "avro-user"))["id"] == 3
