from olapsink_worker.consumer import consumer_config, producer_config, subscription

from .fakes import make_sink


def test_consumer_config_commits_by_hand_and_rebalances_cooperatively():
    conf = consumer_config(make_sink())
    assert conf["enable.auto.commit"] is False
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["group.id"] == "olapsink-default-s"
    assert conf["fetch.max.bytes"] >= 50 * 1024 * 1024
    assert 16 * 1024 <= conf["queued.max.messages.kbytes"] <= 64 * 1024


def test_user_properties_win_and_regex_subscriptions_are_anchored():
    sink = make_sink(
        kafka={"topics": None, "topicsRegex": "cdc\\..*", "properties": {"fetch.max.bytes": "1000"}}
    )
    assert consumer_config(sink)["fetch.max.bytes"] == "1000"
    assert subscription(sink.spec.kafka) == ["^cdc\\..*"]
    assert subscription(make_sink().spec.kafka) == ["t"]


def test_sasl_credentials_come_from_the_mounted_secrets(tmp_path, monkeypatch):
    for name, value in (("u", "alice"), ("p", "pw")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "v").write_text(value)
    monkeypatch.setenv("OLAPSINK_SECRETS_DIR", str(tmp_path))
    sink = make_sink(
        kafka={
            "security": {
                "protocol": "SASL_PLAINTEXT",
                "sasl": {
                    "mechanism": "SCRAM-SHA-512",
                    "usernameSecretRef": {"name": "u", "key": "v"},
                    "passwordSecretRef": {"name": "p", "key": "v"},
                },
            }
        }
    )
    conf = producer_config(sink)
    assert (conf["security.protocol"], conf["sasl.mechanism"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert (conf["sasl.username"], conf["sasl.password"]) == ("alice", "pw")
    assert conf["acks"] == "all"
