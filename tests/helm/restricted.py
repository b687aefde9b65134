"""A checker for the Kubernetes "restricted" Pod Security Standard (which includes "baseline").

Rules as published at kubernetes.io/docs/concepts/security/pod-security-standards (policy version
latest). It works on a plain pod spec dict, so it can check any rendered workload without a cluster;
each violation names the field, in the words `kubectl` users know.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Volume types the restricted profile allows; anything else (hostPath first of all) is a violation.
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

Spec = Mapping[str, Any]


def restricted_violations(pod_spec: Spec, pod_annotations: Mapping[str, str] | None = None) -> list[str]:
    """Every way `pod_spec` breaks the restricted standard; an empty list means it passes."""
    return [*_pod_level(pod_spec), *_containers(pod_spec), *_apparmor_annotations(pod_annotations or {})]


def _pod_level(spec: Spec) -> Iterator[str]:
    for host_field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host_field):
            yield f"spec.{host_field}: must be unset or false"
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        for kind in sorted(kinds - ALLOWED_VOLUME_TYPES):
            yield f"spec.volumes[{volume.get('name')}].{kind}: volume type not allowed"
    sc = spec.get("securityContext") or {}
    yield from _common_security_context("spec.securityContext", sc)
    for sysctl in sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"spec.securityContext.sysctls[{sysctl.get('name')}]: not a safe sysctl"


def _containers(spec: Spec) -> Iterator[str]:
    pod_sc = spec.get("securityContext") or {}
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type") in ALLOWED_SECCOMP_TYPES
    for list_name in CONTAINER_LISTS:
        for container in spec.get(list_name) or []:
            path = f"spec.{list_name}[{container.get('name')}]"
            sc = container.get("securityContext") or {}
            scp = f"{path}.securityContext"
            yield from _common_security_context(scp, sc)
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    port_name = port.get("name", port.get("containerPort"))
                    yield f"{path}.ports[{port_name}].hostPort: must be unset or 0"
            if sc.get("privileged"):
                yield f"{scp}.privileged: must be unset or false"
            if sc.get("procMount", "Default") != "Default":
                yield f"{scp}.procMount: must be unset or Default"
            if sc.get("allowPrivilegeEscalation") is not False:
                yield f"{scp}.allowPrivilegeEscalation: must be false"
            non_root = sc.get("runAsNonRoot")
            if non_root is False or (non_root is None and not pod_non_root):
                yield f"{scp}.runAsNonRoot: must be true here or in spec.securityContext"
            seccomp = (sc.get("seccompProfile") or {}).get("type")
            if seccomp is None and not pod_seccomp:
                yield f"{scp}.seccompProfile.type: must be RuntimeDefault or Localhost here or for the pod"
            capabilities = sc.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                yield f"{scp}.capabilities.drop: must include ALL"
            for added in sorted(set(capabilities.get("add") or []) - ALLOWED_ADDED_CAPABILITIES):
                yield f"{scp}.capabilities.add[{added}]: only NET_BIND_SERVICE may be added"


def _common_security_context(path: str, sc: Spec) -> Iterator[str]:
    """Rules shared by the pod-level and the container-level security context."""
    if sc.get("runAsUser") == 0:
        yield f"{path}.runAsUser: must not be 0 (root)"
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{path}.windowsOptions.hostProcess: must be unset or false"
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP_TYPES:
        yield f"{path}.seccompProfile.type: {seccomp} is not allowed (RuntimeDefault or Localhost)"
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in ALLOWED_SECCOMP_TYPES:
        yield f"{path}.appArmorProfile.type: {apparmor} is not allowed (RuntimeDefault or Localhost)"
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        yield f"{path}.seLinuxOptions.type: {selinux['type']} is not allowed"
    for field in ("user", "role"):
        if selinux.get(field):
            yield f"{path}.seLinuxOptions.{field}: must be unset"


def _apparmor_annotations(annotations: Mapping[str, str]) -> Iterator[str]:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    for key, value in annotations.items():
        if key.startswith(prefix) and value != "runtime/default" and not value.startswith("localhost/"):
            yield f"metadata.annotations[{key}]: {value} is not allowed"
