"""Reads that feed a reconcile besides the sink itself: referenced Secret values, FE reachability, and
fatal errors the workers reported in their termination messages."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from olapsink_operator.kube import KubeClient, KubeError
from olapsink_operator.secretrefs import SecretRef

log = logging.getLogger(__name__)
# Room for the cause in a condition message; the full text stays in the pod status and the log.
_MESSAGE_MAX = 300


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


def pod_failure(pod: Mapping[str, Any]) -> str | None:
    """``pod: reason: message`` when the pod's worker is down after a fatal error, else None.

    The worker writes ``{"state": "Failed", "reason", "message"}`` to its termination log before it
    exits (code 2); Kubernetes shows it as the container's ``terminated.message``, current or, once
    restarted, in ``lastState``. A ready container has recovered, whatever its last state says.
    """
    name = pod.get("metadata", {}).get("name", "?")
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        if container.get("name") != "worker" or container.get("ready"):
            continue
        for state in (container.get("state") or {}, container.get("lastState") or {}):
            terminated = state.get("terminated") or {}
            try:
                report = json.loads(terminated.get("message") or "")
            except ValueError:
                continue
            if isinstance(report, dict) and report.get("state") == "Failed":
                text = f"{report.get('reason', 'FatalError')}: {report.get('message', '')}"
                return f"pod {name}: {text[:_MESSAGE_MAX]}"
    return None


def worker_failures(kube: KubeClient, namespace: str, selector: Mapping[str, str]) -> list[str]:
    """Fatal errors of the sink's worker pods. Without permission to list pods this returns nothing:
    the sink then shows the failure only as workers not ready."""
    try:
        pods = kube.list_labelled("v1", "Pod", namespace, selector)
    except KubeError as error:
        if error.status in (401, 403, 404):
            log.debug("cannot list worker pods in %s: %s", namespace, error)
            return []
        raise
    return sorted(failure for failure in map(pod_failure, pods) if failure)
