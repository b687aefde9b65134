"""The restricted Pod Security Standard checker catches each rule it claims to check."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.helm.restricted import restricted_violations


def compliant_pod() -> dict[str, Any]:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "app",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
                "ports": [{"name": "http", "containerPort": 8080}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
    }


def container_sc(pod: dict[str, Any]) -> dict[str, Any]:
    sc: dict[str, Any] = pod["containers"][0]["securityContext"]
    return sc


Mutation = Callable[[dict[str, Any]], None]

MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "host network": (lambda p: p.update(hostNetwork=True), "spec.hostNetwork"),
    "host PID": (lambda p: p.update(hostPID=True), "spec.hostPID"),
    "host IPC": (lambda p: p.update(hostIPC=True), "spec.hostIPC"),
    "hostPath volume": (lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
    "host port": (lambda p: p["containers"][0]["ports"][0].update(hostPort=80), "hostPort"),
    "privileged": (lambda p: container_sc(p).update(privileged=True), "privileged"),
    "privilege escalation unset": (
        lambda p: container_sc(p).pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    "capabilities not dropped": (lambda p: container_sc(p)["capabilities"].update(drop=[]), "drop"),
    "capability added": (lambda p: container_sc(p)["capabilities"].update(add=["SYS_ADMIN"]), "SYS_ADMIN"),
    "root allowed": (lambda p: p["securityContext"].pop("runAsNonRoot"), "runAsNonRoot"),
    "container says root ok": (lambda p: container_sc(p).update(runAsNonRoot=False), "runAsNonRoot"),
    "uid 0": (lambda p: container_sc(p).update(runAsUser=0), "runAsUser"),
    "no seccomp": (lambda p: p["securityContext"].pop("seccompProfile"), "seccompProfile"),
    "unconfined seccomp": (
        lambda p: container_sc(p).update(seccompProfile={"type": "Unconfined"}),
        "Unconfined",
    ),
    "proc mount": (lambda p: container_sc(p).update(procMount="Unmasked"), "procMount"),
    "unsafe sysctl": (
        lambda p: p["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "kernel.msgmax",
    ),
    "selinux user": (
        lambda p: container_sc(p).update(seLinuxOptions={"user": "root"}),
        "seLinuxOptions.user",
    ),
    "init container": (lambda p: p.update(initContainers=[{"name": "init"}]), "initContainers[init]"),
}


def test_a_compliant_pod_passes() -> None:
    assert restricted_violations(compliant_pod()) == []


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_each_rule_is_enforced(case: str) -> None:
    mutate, field = MUTATIONS[case]
    pod = copy.deepcopy(compliant_pod())
    mutate(pod)
    violations = restricted_violations(pod)
    assert any(field in v for v in violations), violations


def test_unconfined_apparmor_annotation_is_a_violation() -> None:
    annotations = {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
    assert restricted_violations(compliant_pod(), annotations) != []
