"""What a loader needs from a sink spec, as one flat value (the only place the loader reads the spec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from olapsink_worker.load.dialect import LoadOptions
from olapsink_worker.secrets import secret_path

# Read timeout of a Stream Load PUT when the user sets no `timeout` header: the database's own default
# load timeout (600 s) plus a margin, so we do not give up on a load the server is still running.
DEFAULT_LOAD_TIMEOUT_S = 600.0
_LOAD_TIMEOUT_MARGIN_S = 30.0


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class LoaderSettings:
    """Endpoints, identity, timeouts and load options of one sink's loader.

    ``endpoints`` are FE base URLs (``http://host:port``) in the order to try them.
    ``two_phase_commit``: each ``load`` pre-commits and then commits (Doris ``two_phase_commit``).
    """

    flavor: str
    endpoints: tuple[str, ...]
    user: str
    label_prefix: str
    options: LoadOptions = field(default_factory=LoadOptions)
    auto_redirect: bool = True
    two_phase_commit: bool = False
    connect_timeout: float = 30.0
    read_timeout: float = 30.0
    # TLS: check the server's host name (doris.tls.skip-hostname-verification turns it off); ca_file is
    # a PEM bundle (the mounted caSecretRef), None = the system trust store.
    check_hostname: bool = True
    ca_file: str | None = None
    max_redirects: int = 3
    # How long a fetched BE list (direct-to-BE mode) is reused before asking the FE again.
    backends_ttl: float = 60.0

    @property
    def load_read_timeout(self) -> float:
        """Read timeout of the Stream Load PUT: the load's own ``timeout`` header plus a margin."""
        raw = self.options.properties.get("timeout")
        try:
            seconds = float(raw) if raw is not None else DEFAULT_LOAD_TIMEOUT_S
        except ValueError:
            seconds = DEFAULT_LOAD_TIMEOUT_S
        return max(self.read_timeout, seconds + _LOAD_TIMEOUT_MARGIN_S)

    @classmethod
    def from_sink(cls, sink: Any) -> LoaderSettings:
        """Read a ``DorisSink`` / ``StarRocksSink`` (see ``olapsink_worker.spec``)."""
        spec = sink.spec
        flavor = _text(sink.flavor)
        load = spec.load
        group_commit = _text(load.group_commit)
        two_pc_mode = _text(load.two_phase_commit)
        # 2PC buys nothing for at-least-once (deterministic labels already make replays harmless) and
        # costs a round trip; "auto" turns it on only for exactly-once, as the Doris connector does.
        guarantee = _text(getattr(spec, "delivery_guarantee", "at_least_once"))
        two_phase = group_commit == "off" and (
            two_pc_mode == "enabled" or (two_pc_mode == "auto" and guarantee == "exactly_once")
        )
        deletes = getattr(spec, "deletes", None)
        options = LoadOptions(
            format=_text(load.format),  # type: ignore[arg-type]
            compression=_text(load.compression),  # type: ignore[arg-type]
            properties=dict(load.properties),
            group_commit=group_commit,  # type: ignore[arg-type]
            max_filter_ratio=load.max_filter_ratio,
            deletes=bool(deletes.enabled) if deletes is not None and flavor == "doris" else False,
        )
        prefix = sink.effective_label_prefix
        if flavor == "doris":
            doris = spec.doris
            scheme = "https" if doris.tls.enabled and "http" not in doris.tls.excluded_protocols else "http"
            return cls(
                flavor=flavor,
                endpoints=tuple(f"{scheme}://{host}:{doris.http_port}" for host in doris.fe_hosts),
                user=doris.user,
                label_prefix=prefix,
                options=options,
                auto_redirect=doris.auto_redirect,
                two_phase_commit=two_phase,
                connect_timeout=doris.request_connect_timeout_ms / 1000.0,
                read_timeout=doris.request_read_timeout_ms / 1000.0,
                check_hostname=not doris.tls.skip_hostname_verification,
                ca_file=str(secret_path(doris.tls.ca_secret_ref)) if doris.tls.ca_secret_ref else None,
            )
        starrocks = spec.starrocks
        return cls(
            flavor=flavor,
            endpoints=tuple(
                u.rstrip("/") if "://" in u else f"http://{u.rstrip('/')}" for u in starrocks.http_urls
            ),
            user=starrocks.user,
            label_prefix=prefix,
            options=options,
            auto_redirect=True,
            two_phase_commit=False,
            connect_timeout=starrocks.connect_timeout_ms / 1000.0,
        )
