"""spec.kafka: where to consume from and how to authenticate to the brokers."""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import Field, field_validator, model_validator

from olapsink_worker.spec.base import SecretKeyRef, SpecModel, raise_problems, refuse_typed_keys

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# librdkafka settings that have a typed field: setting them in `properties` as well would make it unclear
# which one wins, so they are rejected with a pointer to the field.
_TYPED_CONSUMER_PROPERTIES = {
    "bootstrap.servers": "spec.kafka.bootstrapServers",
    "metadata.broker.list": "spec.kafka.bootstrapServers",
    "group.id": "spec.kafka.groupId",
    "security.protocol": "spec.kafka.security.protocol",
    "sasl.mechanism": "spec.kafka.security.sasl.mechanism",
    "sasl.mechanisms": "spec.kafka.security.sasl.mechanism",
    "sasl.username": "spec.kafka.security.sasl.usernameSecretRef",
    "sasl.password": "spec.kafka.security.sasl.passwordSecretRef",
    "ssl.ca.location": "spec.kafka.security.tls.caSecretRef",
    "ssl.ca.pem": "spec.kafka.security.tls.caSecretRef",
    "ssl.certificate.location": "spec.kafka.security.tls.certSecretRef",
    "ssl.certificate.pem": "spec.kafka.security.tls.certSecretRef",
    "ssl.key.location": "spec.kafka.security.tls.keySecretRef",
    "ssl.key.pem": "spec.kafka.security.tls.keySecretRef",
    "ssl.key.password": "spec.kafka.security.tls.keySecretRef (an unencrypted PEM key)",
    "ssl.endpoint.identification.algorithm": "spec.kafka.security.tls.skipHostnameVerification",
    # The worker commits offsets itself, only after a load succeeded.
    "enable.auto.commit": "nothing: olapsink commits offsets only after a successful load",
    "enable.auto.offset.store": "nothing: olapsink stores offsets only after a successful load",
}


class ObjectIdentity(Protocol):
    """What ``group_id_for`` needs from object metadata."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> str: ...


class SaslSpec(SpecModel):
    """SASL authentication; the credentials come from Secrets (Kafka Connect: ``sasl.jaas.config``)."""

    mechanism: SaslMechanism = Field(description="SASL mechanism (sasl.mechanism).")
    username_secret_ref: SecretKeyRef = Field(description="Secret key holding the SASL user name.")
    password_secret_ref: SecretKeyRef = Field(description="Secret key holding the SASL password.")


class KafkaTlsSpec(SpecModel):
    """TLS to the brokers. PEM material from Secrets; JKS stores are not readable by librdkafka."""

    ca_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="PEM CA certificate(s) to verify the brokers (replaces ssl.truststore.location). "
        "Unset: the system trust store.",
    )
    cert_secret_ref: SecretKeyRef | None = Field(
        default=None, description="PEM client certificate for mutual TLS (replaces ssl.keystore.location)."
    )
    key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="PEM private key of the client certificate (unencrypted)."
    )
    skip_hostname_verification: bool = Field(
        default=False,
        description="Do not check the broker certificate's host name "
        "(ssl.endpoint.identification.algorithm empty). Only for test clusters.",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> KafkaTlsSpec:
        if (self.cert_secret_ref is None) != (self.key_secret_ref is None):
            missing = "keySecretRef" if self.key_secret_ref is None else "certSecretRef"
            raise_problems([(missing, "a client certificate needs both certSecretRef and keySecretRef")])
        return self


class KafkaSecuritySpec(SpecModel):
    """How the worker authenticates to Kafka (Kafka Connect: security.protocol, ssl.*, sasl.*)."""

    protocol: SecurityProtocol = Field(default="PLAINTEXT", description="security.protocol.")
    sasl: SaslSpec | None = Field(default=None, description="Required with SASL_PLAINTEXT and SASL_SSL.")
    tls: KafkaTlsSpec | None = Field(default=None, description="Used with SSL and SASL_SSL.")

    @model_validator(mode="after")
    def _matches_protocol(self) -> KafkaSecuritySpec:
        problems: list[tuple[str, str]] = []
        uses_sasl = self.protocol.startswith("SASL_")
        uses_tls = self.protocol.endswith("SSL")
        if uses_sasl and self.sasl is None:
            problems.append(("sasl", f"protocol {self.protocol} needs sasl (mechanism and credentials)"))
        if not uses_sasl and self.sasl is not None:
            problems.append(
                ("sasl", f"protocol {self.protocol} does not use SASL; use SASL_SSL or remove sasl")
            )
        if not uses_tls and self.tls is not None:
            problems.append(
                ("tls", f"protocol {self.protocol} does not use TLS; use SSL/SASL_SSL or remove tls")
            )
        raise_problems(problems)
        return self


class KafkaSpec(SpecModel):
    """Where to consume from. Replaces bootstrap.servers, topics, topics.regex and the consumer.* keys."""

    bootstrap_servers: str = Field(
        min_length=1,
        description="Comma-separated host:port list of brokers (the Connect worker's bootstrap.servers).",
    )
    topics: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Topics to consume (topics). Exactly one of topics/topicsRegex.",
    )
    topics_regex: str | None = Field(
        default=None, min_length=1, description="Regular expression selecting topics (topics.regex)."
    )
    group_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=249,
        description="Consumer group. Default olapsink-<namespace>-<name>. Kafka Connect used connect-<name>; "
        "set that to resume from the offsets the connector committed.",
    )
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="Extra librdkafka consumer settings, passed through as strings "
        "(e.g. fetch.max.bytes). Settings with a typed field here are rejected.",
    )
    security: KafkaSecuritySpec = Field(default_factory=KafkaSecuritySpec, description="TLS and SASL.")

    @field_validator("topics")
    @classmethod
    def _topics_are_names(cls, topics: list[str] | None) -> list[str] | None:
        if topics is None:
            return None
        cleaned = [t.strip() for t in topics]
        for topic in cleaned:
            if not re.fullmatch(r"[a-zA-Z0-9._-]{1,249}", topic):
                raise ValueError(f"{topic!r} is not a Kafka topic name (letters, digits, '.', '_', '-')")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a topic is listed twice")
        return cleaned

    @field_validator("topics_regex")
    @classmethod
    def _regex_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @field_validator("properties")
    @classmethod
    def _no_typed_properties(cls, properties: dict[str, str]) -> dict[str, str]:
        return refuse_typed_keys(properties, _TYPED_CONSUMER_PROPERTIES, "setting")

    @model_validator(mode="after")
    def _one_topic_selector(self) -> KafkaSpec:
        if self.topics is not None and self.topics_regex is not None:
            raise_problems([("topicsRegex", "set exactly one of topics and topicsRegex, not both")])
        if self.topics is None and self.topics_regex is None:
            raise_problems([("topics", "set exactly one of topics and topicsRegex")])
        return self

    def group_id_for(self, metadata: ObjectIdentity) -> str:
        """The consumer group: ``groupId`` if set, else ``olapsink-<namespace>-<name>``."""
        return self.group_id or f"olapsink-{metadata.namespace}-{metadata.name}"
