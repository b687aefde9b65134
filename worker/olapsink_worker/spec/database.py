"""spec.doris / spec.starrocks: how to reach the database and whom to load as."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from olapsink_worker.spec.base import SecretKeyRef, SpecModel

_HOST = re.compile(r"^(\[[0-9a-fA-F:]+\]|[^\s:/\[\]]+)$")
_HOST_PORT = re.compile(r"^(https?://)?(\[[0-9a-fA-F:]+\]|[^\s:/\[\]]+):\d{1,5}/?$")


class DorisTlsSpec(SpecModel):
    """TLS to Doris (connector 26.1 keys doris.enable.tls and doris.tls.*)."""

    enabled: bool = Field(default=False, description="Use HTTPS and MySQL TLS (doris.enable.tls).")
    ca_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="PEM CA certificate (replaces doris.tls.ca-certificate-path). Unset: system trust store.",
    )
    skip_hostname_verification: bool = Field(
        default=False, description="doris.tls.skip-hostname-verification."
    )
    excluded_protocols: list[Literal["http", "mysql"]] = Field(
        default_factory=list, description="Connections that stay plain (doris.tls.excluded-protocols)."
    )


class DorisConnectionSpec(SpecModel):
    """The Doris cluster (doris.urls, doris.http.port, doris.query.port, doris.user, doris.password...)."""

    fe_hosts: list[str] = Field(
        min_length=1, description="FE host names or addresses, without ports (doris.urls)."
    )
    http_port: int = Field(default=8030, ge=1, le=65535, description="FE HTTP port (doris.http.port).")
    query_port: int = Field(
        default=9030, ge=1, le=65535, description="FE MySQL-protocol port (doris.query.port)."
    )
    user: str = Field(default="root", min_length=1, description="User for Stream Load and SQL (doris.user).")
    password_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the password (doris.password). Unset: empty password."
    )
    database: str = Field(
        min_length=1,
        description="Target database (doris.database); tables written 'db.table' in spec.tables override it.",
    )
    auto_redirect: bool = Field(
        default=True,
        description="Load through the FE, which redirects to a BE (auto.redirect). false: load to BEs "
        "listed by the FE directly.",
    )
    request_connect_timeout_ms: int = Field(
        default=30000, gt=0, description="HTTP connect timeout (request.connect.timeout.ms)."
    )
    request_read_timeout_ms: int = Field(
        default=30000, gt=0, description="HTTP read timeout (request.read.timeout.ms)."
    )
    tls: DorisTlsSpec = Field(default_factory=DorisTlsSpec, description="TLS to the FE/BE and MySQL port.")

    @field_validator("fe_hosts")
    @classmethod
    def _hosts_without_ports(cls, hosts: list[str]) -> list[str]:
        cleaned = [h.strip() for h in hosts]
        for host in cleaned:
            if not _HOST.match(host):
                raise ValueError(
                    f"{host!r} is not a bare host name; write the host only and set httpPort/queryPort"
                )
        return cleaned


class StarRocksConnectionSpec(SpecModel):
    """The StarRocks cluster (starrocks.http.url, starrocks.database.name, starrocks.username...)."""

    http_urls: list[str] = Field(
        min_length=1,
        description="FE HTTP addresses host:port, optionally with http(s):// (starrocks.http.url).",
    )
    query_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="FE MySQL-protocol port, needed only for schema evolution (information_schema queries).",
    )
    database: str = Field(min_length=1, description="Target database (starrocks.database.name).")
    user: str = Field(default="root", min_length=1, description="User (starrocks.username).")
    password_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding the password (starrocks.password). Unset: empty password.",
    )
    connect_timeout_ms: int = Field(
        default=1000,
        ge=100,
        le=60000,
        description="TCP connect timeout to the FE (connect.timeoutms). "
        "The connector's code default, 100 ms, "
        "fails on slow networks; 1000 is its documented default.",
    )

    @field_validator("http_urls")
    @classmethod
    def _host_and_port(cls, urls: list[str]) -> list[str]:
        cleaned = [u.strip() for u in urls]
        for url in cleaned:
            if not _HOST_PORT.match(url):
                raise ValueError(f"{url!r} is not host:port (e.g. fe1:8030)")
        return cleaned
