"""A small synchronous Kubernetes REST client: just the verbs the operator uses (see docs/operator.md).

Credentials come from the in-cluster service account or the kubeconfig, as loaded by the official
client's config loader; requests go through httpx, which keeps the calls and their content types
explicit (JSON patch for children, merge patch for status).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

# apiVersion/kind → plural, for every kind the operator reads or writes.
PLURALS = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("v1", "Secret"): "secrets",
    ("v1", "Event"): "events",
    ("v1", "Pod"): "pods",
    ("apps/v1", "Deployment"): "deployments",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("olapsink.io/v1alpha1", "DorisSink"): "dorissinks",
    ("olapsink.io/v1alpha1", "StarRocksSink"): "starrockssinks",
}


SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str | None
    ca_path: str | None
    cert_path: str | None
    key_path: str | None
    verify: bool
    token_file: str | None = None  # in-cluster: re-read, the kubelet rotates bound tokens


class TokenFileAuth(httpx.Auth):
    """Bearer token read from a file that the kubelet rotates; re-read when the file changes."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._mtime = -1.0
        self._token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        mtime = os.stat(self._path).st_mtime
        if mtime != self._mtime:
            with open(self._path, encoding="utf-8") as file:
                self._token = file.read().strip()
            self._mtime = mtime
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def load_credentials() -> Credentials:
    """In-cluster credentials when running in a pod, else the current kubeconfig context.

    Shared by our client and kopf's login handler, so both talk to the same cluster as the same user.
    """
    cfg = k8s_client.Configuration()
    token_file = None
    try:
        k8s_config.load_incluster_config(client_configuration=cfg)
        token_file = SERVICE_ACCOUNT_TOKEN
    except k8s_config.ConfigException:
        # KUBECONFIG is read now, not at import time as the loader's default does.
        k8s_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=cfg)
    api_key = cfg.api_key or {}
    token = api_key.get("authorization") or api_key.get("BearerToken")
    if token:
        token = token.removeprefix("Bearer ").strip()
    return Credentials(
        server=str(cfg.host),
        token=token or None,
        ca_path=cfg.ssl_ca_cert,
        cert_path=cfg.cert_file,
        key_path=cfg.key_file,
        verify=bool(cfg.verify_ssl),
        token_file=token_file,
    )


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def object_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    plural = PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


class KubeClient:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    @classmethod
    def from_environment(cls) -> KubeClient:
        creds = load_credentials()
        auth = TokenFileAuth(creds.token_file) if creds.token_file else None
        headers = {"Authorization": f"Bearer {creds.token}"} if creds.token and not auth else {}
        verify: Any = creds.ca_path if (creds.verify and creds.ca_path) else creds.verify
        cert = (creds.cert_path, creds.key_path) if creds.cert_path and creds.key_path else None
        http = httpx.Client(
            base_url=creds.server, headers=headers, auth=auth, verify=verify, cert=cert, timeout=30.0
        )
        return cls(http)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, body: Any = None, content_type: str | None = None) -> Any:
        headers = {"Content-Type": content_type} if content_type else {}
        response = self._http.request(method, path, json=body, headers=headers)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise KubeError(response.status_code, f"{method} {path}: {message}")
        return response.json() if response.content else None

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        try:
            result: dict[str, Any] = self._send("GET", object_path(api_version, kind, namespace, name))
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return result

    def list_labelled(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Objects of a kind in a namespace carrying all ``labels`` (selected by the server and
        checked again here, so a server that ignores selectors cannot widen the result)."""
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        path = object_path(api_version, kind, namespace) + f"?labelSelector={selector}"
        items: list[dict[str, Any]] = (self._send("GET", path) or {}).get("items") or []
        return [
            item
            for item in items
            if all((item.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in labels.items())
        ]

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        path = object_path(obj["apiVersion"], obj["kind"], meta.get("namespace", "default"))
        result: dict[str, Any] = self._send("POST", path, dict(obj))
        return result

    def json_patch(
        self, api_version: str, kind: str, namespace: str, name: str, ops: list[dict[str, Any]]
    ) -> dict[str, Any]:
        path = object_path(api_version, kind, namespace, name)
        result: dict[str, Any] = self._send("PATCH", path, ops, "application/json-patch+json")
        return result

    def patch_status(
        self, api_version: str, kind: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = object_path(api_version, kind, namespace, name) + "/status"
        result: dict[str, Any] = self._send(
            "PATCH", path, {"status": dict(patch)}, "application/merge-patch+json"
        )
        return result
