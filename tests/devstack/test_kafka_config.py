"""Pure parts of the Kafka launcher: server.properties and cluster ids."""

import base64
from pathlib import Path

from tests.devstack.kafka_server import new_cluster_id, render_log4j_properties, render_server_properties


def _parse(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys"
    return dict(pairs)


def test_server_properties_bind_both_listeners_to_localhost_on_the_given_ports() -> None:
    props = _parse(render_server_properties(9092, 9093, Path("/tmp/x/data")))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"] == "/tmp/x/data"


def test_server_properties_keep_one_replica_of_internal_topics_and_no_rebalance_delay() -> None:
    props = _parse(render_server_properties(1, 2, Path("/d")))
    single = [k for k in props if k.endswith("replication.factor") or k.endswith("min.isr")]
    assert single and all(props[k] == "1" for k in single)
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"


def test_cluster_id_is_a_fresh_base64_uuid() -> None:
    first, second = new_cluster_id(), new_cluster_id()
    assert first != second
    assert len(first) == 22
    assert len(base64.urlsafe_b64decode(first + "==")) == 16


def test_log_config_sends_everything_to_stdout() -> None:
    text = render_log4j_properties()
    assert "appender.out.type = Console" in text
    assert "rootLogger.appenderRef.out.ref = out" in text


def test_cluster_ids_never_start_with_a_dash() -> None:
    # The storage tool would parse "-abc…" as an option and refuse to format.
    assert not any(new_cluster_id().startswith("-") for _ in range(2000))
