"""Secret reads and the frontend probe, without a cluster."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime
from typing import Any

from olapsink_operator.events import render_event
from olapsink_operator.observe import database_endpoints, pod_failure, probe_database, read_secrets
from olapsink_operator.secretrefs import SecretRef


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        assert (api_version, kind) == ("v1", "Secret")
        data = self.secrets.get(name)
        if data is None:
            return None
        return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_referenced_values_are_decoded_and_missing_secrets_or_keys_named() -> None:
    kube: Any = FakeSecrets({"cred": {"password": "pw", "other": "x"}})
    refs = [
        SecretRef("doris.passwordSecretRef", "cred", "password"),
        SecretRef("kafka.security.sasl.usernameSecretRef", "cred", "user"),
        SecretRef("kafka.security.tls.caSecretRef", "ca", "ca.crt"),
    ]
    values, missing = read_secrets(kube, "ns", refs)
    assert values == {("cred", "password"): b"pw"}
    assert missing == ["ca", "cred/user"]


def test_frontend_endpoints_of_both_flavors() -> None:
    doris = {"spec": {"doris": {"feHosts": ["fe1", "fe2"], "httpPort": 8130}}}
    starrocks = {"spec": {"starrocks": {"httpUrls": ["http://sr1:8030", "sr2:8040", "sr3"]}}}
    assert database_endpoints(doris) == [("fe1", 8130), ("fe2", 8130)]
    assert database_endpoints(starrocks) == [("sr1", 8030), ("sr2", 8040), ("sr3", 8030)]


def test_probe_passes_when_one_frontend_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert probe_database([("127.0.0.1", 1), ("127.0.0.1", port)], timeout=1) is None


def test_probe_names_the_frontends_tried_when_none_listens() -> None:
    message = probe_database([("127.0.0.1", 1)], timeout=1)
    assert message is not None and "127.0.0.1:1" in message


def test_events_are_single_line_and_bounded() -> None:
    sink = {"apiVersion": "olapsink.io/v1alpha1", "kind": "DorisSink", "metadata": {"name": "s", "uid": "u"}}
    event = render_event(
        sink, "Warning", "InvalidSpec", "a\nb " + "x" * 2000, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert "\n" not in event["message"] and len(event["message"]) <= 1000
    assert event["involvedObject"] == {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": "DorisSink",
        "name": "s",
        "namespace": "default",
        "uid": "u",
    }
    assert event["metadata"]["name"].startswith("s.")


def _pod(ready: bool, state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    container = {"name": "worker", "ready": ready, "state": state, "lastState": last or {}}
    return {"metadata": {"name": "w-1"}, "status": {"containerStatuses": [container]}}


FAILED = '{"state": "Failed", "reason": "TableNotFound", "message": "table shop.orders_tbl does not exist"}'


def test_a_crash_looping_worker_reports_its_last_fatal_error() -> None:
    pod = _pod(
        False, {"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 2, "message": FAILED}}
    )
    assert pod_failure(pod) == "pod w-1: TableNotFound: table shop.orders_tbl does not exist"


def test_a_terminated_worker_reports_its_fatal_error() -> None:
    assert pod_failure(_pod(False, {"terminated": {"exitCode": 2, "message": FAILED}})) is not None


def test_a_ready_worker_has_recovered_whatever_its_last_state() -> None:
    assert pod_failure(_pod(True, {"running": {}}, {"terminated": {"message": FAILED}})) is None


def test_non_fatal_or_unreadable_termination_messages_are_no_failure() -> None:
    stopped = '{"state": "Stopped"}'
    assert pod_failure(_pod(False, {"terminated": {"message": stopped}})) is None
    assert pod_failure(_pod(False, {"terminated": {"message": "OOMKilled"}})) is None
    assert pod_failure(_pod(False, {"waiting": {"reason": "ContainerCreating"}})) is None
