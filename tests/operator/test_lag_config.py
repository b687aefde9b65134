"""Admin-client settings from spec.kafka, and which topics a sink subscribes to (no Kafka needed)."""

from __future__ import annotations

from olapsink_operator.lag import admin_config, subscribed_topics


def test_sasl_ssl_settings_take_credentials_from_the_secret_values() -> None:
    kafka = {
        "bootstrapServers": "k:9093",
        "properties": {"fetch.max.bytes": "1", "ssl.endpoint.identification.algorithm": "https"},
        "security": {
            "protocol": "SASL_SSL",
            "sasl": {
                "mechanism": "SCRAM-SHA-512",
                "usernameSecretRef": {"name": "u", "key": "user"},
                "passwordSecretRef": {"name": "u", "key": "pass"},
            },
            "tls": {"caSecretRef": {"name": "ca", "key": "ca.crt"}},
        },
    }
    values = {("u", "user"): b"alice", ("u", "pass"): b"pw", ("ca", "ca.crt"): b"PEM"}
    assert admin_config(kafka, values) == {
        "bootstrap.servers": "k:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice",
        "sasl.password": "pw",
        "ssl.ca.pem": "PEM",
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_plaintext_needs_only_bootstrap() -> None:
    assert admin_config({"bootstrapServers": "k:9092"}, {}) == {
        "bootstrap.servers": "k:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_regex_matches_whole_names_and_skips_internal_topics() -> None:
    existing = ["cdc.a", "cdc.b", "xcdc.c", "__consumer_offsets", "other"]
    assert subscribed_topics({"topicsRegex": r"cdc\..*"}, existing) == ["cdc.a", "cdc.b"]
    assert subscribed_topics({"topics": ["b", "a"]}, existing) == ["a", "b"]
