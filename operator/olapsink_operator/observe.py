"""Reads that feed a reconcile besides the sink itself: referenced Secret values and FE reachability."""

from __future__ import annotations

import base64
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from olapsink_operator.kube import KubeClient
from olapsink_operator.secretrefs import SecretRef


def read_secrets(
    kube: KubeClient, namespace: str, refs: Sequence[SecretRef]
) -> tuple[dict[tuple[str, str], bytes], list[str]]:
    """Values of the referenced keys, and the ``secret/key`` references that could not be found."""
    values: dict[tuple[str, str], bytes] = {}
    missing: list[str] = []
    for secret in sorted({ref.secret for ref in refs}):
        obj = kube.get("v1", "Secret", namespace, secret)
        data = (obj or {}).get("data") or {}
        for ref in refs:
            if ref.secret != secret:
                continue
            if ref.key in data:
                values[(secret, ref.key)] = base64.b64decode(data[ref.key])
            else:
                missing.append(f"{secret}/{ref.key}" if obj is not None else secret)
    return values, sorted(set(missing))


def database_endpoints(manifest: Mapping[str, Any]) -> list[tuple[str, int]]:
    spec = manifest["spec"]
    if "doris" in spec:
        port = int(spec["doris"].get("httpPort", 8030))
        return [(str(host), port) for host in spec["doris"].get("feHosts", [])]
    endpoints = []
    for url in spec.get("starrocks", {}).get("httpUrls", []):
        host, _, port_text = str(url).removeprefix("http://").removeprefix("https://").rpartition(":")
        endpoints.append((host or str(url), int(port_text) if port_text.isdigit() else 8030))
    return endpoints


def probe_database(endpoints: list[tuple[str, int]], timeout: float) -> str | None:
    """None when one frontend accepts a TCP connection; else a message naming the ones tried."""
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError:
            continue
    tried = ", ".join(f"{h}:{p}" for h, p in endpoints)
    return f"no frontend reachable on its HTTP port ({tried})"
