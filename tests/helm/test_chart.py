"""The olapsink chart: lint, render, schema-validate every object, RBAC shape, operator pod hygiene."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
from olapsink_operator.main import parse_args, watched_namespaces
from olapsink_operator.metrics import OperatorMetrics
from olapsink_worker.metrics import WorkerMetrics

from tests.helm.chart import (
    CHART_DIR,
    NAMESPACE,
    VALUES_ALL,
    Manifest,
    find,
    load_values,
    manifests,
    notes,
    one,
)
from tests.helm.restricted import restricted_violations

KUBE_VERSION = "1.33"
MONITORING = "monitoring.coreos.com/v1"

# The Prometheus Operator's CRDs are not in kubernetes-validate; these schemas hold the fields its
# CRDs require and the ones this chart relies on, so a typo there still fails a test.
_SELECTOR = {"type": "object", "properties": {"matchLabels": {"type": "object", "minProperties": 1}}}
_NAMESPACE_SELECTOR = {
    "type": "object",
    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False,
}
_ENDPOINT = {
    "type": "object",
    "required": ["port"],
    "properties": {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "interval": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"},
        "honorLabels": {"type": "boolean"},
    },
    "additionalProperties": False,
}
MONITORING_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["selector", "endpoints"],
        "properties": {
            "selector": _SELECTOR,
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "endpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
        },
        "additionalProperties": False,
    },
    "PodMonitor": {
        "type": "object",
        "required": ["selector", "podMetricsEndpoints"],
        "properties": {
            "selector": _SELECTOR,
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
        },
        "additionalProperties": False,
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["groups"],
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "properties": {
                        "name": {"type": "string"},
                        "rules": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["alert", "expr"],
                                "properties": {
                                    "alert": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                                    "expr": {"type": "string", "minLength": 1},
                                    "for": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d))+$"},
                                    "labels": {"type": "object"},
                                    "annotations": {"type": "object"},
                                },
                                "additionalProperties": False,
                            },
                        },
                    },
                },
            }
        },
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def all_values() -> dict[str, Any]:
    return load_values(VALUES_ALL)


@pytest.fixture(scope="module")
def default_docs() -> list[Manifest]:
    return manifests()


@pytest.fixture(scope="module")
def all_docs(all_values: dict[str, Any]) -> list[Manifest]:
    return manifests(all_values)


def validate(doc: Manifest) -> None:
    if doc["apiVersion"] == MONITORING:
        jsonschema.validate(doc["spec"], MONITORING_SCHEMAS[doc["kind"]])
    else:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def operator_deployment(docs: list[Manifest]) -> Manifest:
    return next(d for d in find(docs, "Deployment") if d["metadata"]["name"].endswith("-operator"))


def rules_of(role: Manifest) -> dict[str, set[str]]:
    """'group/resource' → verbs, flattened from a (Cluster)Role's rules."""
    flat: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.setdefault(f"{group}/{resource}", set()).update(rule["verbs"])
    return flat


# --- lint and validation -------------------------------------------------------------------


@pytest.mark.parametrize("values_name", ["default", "values-all"])
def test_chart_lints_clean_in_strict_mode(values_name: str, all_values: dict[str, Any]) -> None:
    values = all_values if values_name == "values-all" else None
    report = helm_python.lint(
        CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}.0"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == []


@pytest.mark.parametrize("values_name", ["default", "values-all"])
def test_every_rendered_object_validates(values_name: str, all_values: dict[str, Any]) -> None:
    docs = manifests(all_values if values_name == "values-all" else None)
    assert docs, "the chart rendered nothing"
    for doc in docs:
        validate(doc)


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every named property in a JSON schema (free-form maps stop the walk)."""
    paths: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        paths.add(prefix + key)
        paths |= schema_paths(sub, f"{prefix}{key}.")
    return paths


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in values.items():
        paths.add(prefix + key)
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in sub:
            paths |= value_paths(value, sub, f"{prefix}{key}.")
    return paths


def test_values_yaml_sets_every_key_the_schema_knows() -> None:
    # values.yaml is the documentation users read (helm show values): no option may hide in the schema only.
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = load_values(CHART_DIR / "values.yaml")
    assert schema_paths(schema) == value_paths(values, schema)


def test_values_all_turns_on_every_optional_template(all_docs: list[Manifest]) -> None:
    kinds = {d["kind"] for d in all_docs}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Role", "RoleBinding", "Service"} <= kinds


def test_defaults_render_no_prometheus_operator_objects(default_docs: list[Manifest]) -> None:
    # A cluster without the Prometheus Operator must be able to install the defaults.
    assert [d["kind"] for d in default_docs if d["apiVersion"] == MONITORING] == []


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"watchNamespace": ["a"]}, "watchNamespace"),
        ({"operator": {"logLevel": "loud"}}, "logLevel"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
        ({"metrics": {"prometheusRule": {"lagGrowingFor": "fifteen minutes"}}}, "lagGrowingFor"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    ],
)
def test_values_schema_rejects_mistakes_naming_the_key(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=complaint):
        manifests(values)


# --- the operator Deployment ----------------------------------------------------------------


def test_operator_runs_one_replica_with_recreate(default_docs: list[Manifest]) -> None:
    spec = operator_deployment(default_docs)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("values_name", ["default", "values-all"])
def test_operator_pod_meets_restricted_pod_security_standard(
    values_name: str, all_values: dict[str, Any]
) -> None:
    docs = manifests(all_values if values_name == "values-all" else None)
    template = operator_deployment(docs)["spec"]["template"]
    assert restricted_violations(template["spec"], template["metadata"].get("annotations")) == []


def test_operator_root_filesystem_is_read_only_with_writable_tmp(default_docs: list[Manifest]) -> None:
    pod = operator_deployment(default_docs)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def operator_args(docs: list[Manifest]) -> list[str]:
    args: list[str] = operator_deployment(docs)["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_operator_watches_all_namespaces_by_default(default_docs: list[Manifest]) -> None:
    # Parsed by the operator's own argument parser, so a renamed option breaks this test, not a cluster.
    args = parse_args(operator_args(default_docs))
    assert watched_namespaces(args) == []
    assert args.peering is None and args.verbose is False


def test_operator_watches_only_the_listed_namespaces(all_docs: list[Manifest]) -> None:
    args = parse_args(operator_args(all_docs))
    assert watched_namespaces(args) == ["analytics", "ingest"]
    assert args.verbose is True


def test_operator_liveness_probe_hits_the_port_kopf_serves(all_docs: list[Manifest]) -> None:
    container = operator_deployment(all_docs)["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["port"] == "health"
    assert parse_args(container["args"]).liveness == f"http://0.0.0.0:{ports['health']}/healthz"
    assert ports["health"] == 8081


def test_worker_image_defaults_to_the_operator_image(
    default_docs: list[Manifest], all_docs: list[Manifest]
) -> None:
    def env_and_image(docs: list[Manifest]) -> tuple[str, str]:
        container = operator_deployment(docs)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        return env["OLAPSINK_WORKER_IMAGE"], container["image"]

    worker, image = env_and_image(default_docs)
    assert worker == image == "ghcr.io/olapsink/olapsink:0.1.0"
    worker, image = env_and_image(all_docs)
    assert (worker, image) == (
        "registry.example.com/data/olapsink-worker:0.1.0-rc1",
        "registry.example.com/data/olapsink:0.1.0-rc1",
    )


def test_pod_settings_reach_the_operator_pod(all_docs: list[Manifest]) -> None:
    template = operator_deployment(all_docs)["spec"]["template"]
    pod = template["spec"]
    assert template["metadata"]["labels"]["team"] == "data-platform"
    assert template["metadata"]["annotations"] == {"example.com/owner": "data-platform"}
    assert pod["serviceAccountName"] == "olapsink-operator-sa"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "data-platform-high"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in pod["affinity"]
    container = pod["containers"][0]
    assert {"name": "TZ", "value": "UTC"} in container["env"]
    assert container["args"][-1] == "--priority=0"
    assert container["resources"]["limits"]["memory"] == "384Mi"


# --- RBAC -----------------------------------------------------------------------------------

SINKS = ("olapsink.io/dorissinks", "olapsink.io/starrockssinks")


def test_cluster_wide_mode_grants_everything_in_one_cluster_role(default_docs: list[Manifest]) -> None:
    assert find(default_docs, "Role") == [] and find(default_docs, "RoleBinding") == []
    rules = rules_of(one(default_docs, "ClusterRole", "olapsink-operator"))
    for sink in SINKS:
        assert rules[sink] == {"get", "list", "watch", "patch"}
        assert rules[f"{sink}/status"] == {"patch"}
        assert rules[f"{sink}/finalizers"] == {"update"}
        assert f"{sink}/scale" not in rules
    assert rules["/secrets"] == {"get", "list", "watch"}
    assert rules["apps/deployments"] == {"create", "get", "list", "watch", "patch"}
    assert rules["/services"] == rules["policy/poddisruptionbudgets"] == {"create", "get", "patch"}
    # Also list/watch: the Avro schema ConfigMaps sinks name are watched.
    assert rules["/configmaps"] == {"create", "get", "list", "watch", "patch"}
    assert rules["/events"] == {"create"}
    assert rules["apiextensions.k8s.io/customresourcedefinitions"] == {"list", "watch"}
    binding = one(default_docs, "ClusterRoleBinding", "olapsink-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "olapsink", "namespace": NAMESPACE}]


def test_namespaced_mode_grants_rights_only_in_watched_namespaces(all_docs: list[Manifest]) -> None:
    roles = find(all_docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["analytics", "ingest"]
    bindings = find(all_docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["analytics", "ingest"]
    for binding in bindings:
        assert binding["subjects"][0]["name"] == "olapsink-operator-sa"
        assert binding["subjects"][0]["namespace"] == NAMESPACE
    assert "/secrets" in rules_of(roles[0])
    # What stays cluster-wide is read access to CRDs and namespaces, nothing that holds data.
    cluster_rules = rules_of(one(all_docs, "ClusterRole", "olapsink-all-operator"))
    assert cluster_rules == {
        "apiextensions.k8s.io/customresourcedefinitions": {"list", "watch"},
        "/namespaces": {"list", "watch"},
    }


def test_namespaced_and_cluster_wide_modes_grant_the_same_namespaced_rules(
    default_docs: list[Manifest], all_docs: list[Manifest]
) -> None:
    cluster = rules_of(one(default_docs, "ClusterRole", "olapsink-operator"))
    cluster.pop("apiextensions.k8s.io/customresourcedefinitions")
    assert rules_of(find(all_docs, "Role")[0]) == cluster


def test_operator_may_not_write_secrets_or_touch_other_kinds(default_docs: list[Manifest]) -> None:
    for role in find(default_docs, "ClusterRole", "olapsink-operator"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            if "secrets" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}


def test_reading_worker_pods_is_granted_only_when_enabled(default_docs: list[Manifest]) -> None:
    def pods_rule_and_env(docs: list[Manifest]) -> tuple[set[str] | None, str]:
        rules = rules_of(one(docs, "ClusterRole", "olapsink-operator"))
        container = operator_deployment(docs)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        return rules.get("/pods"), env["OLAPSINK_READ_WORKER_PODS"]

    assert pods_rule_and_env(default_docs) == ({"list"}, "true")
    assert pods_rule_and_env(manifests({"operator": {"readWorkerPods": False}})) == (None, "false")


def test_rbac_create_false_renders_no_roles() -> None:
    docs = manifests({"rbac": {"create": False}})
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")]


def test_aggregated_roles_extend_edit_and_view_including_scale(default_docs: list[Manifest]) -> None:
    edit = one(default_docs, "ClusterRole", "olapsink-edit")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    edit_rules = rules_of(edit)
    for sink in SINKS:
        assert {"create", "update", "patch", "delete"} <= edit_rules[sink]
        assert {"get", "patch", "update"} <= edit_rules[f"{sink}/scale"]
    view = one(default_docs, "ClusterRole", "olapsink-view")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for verbs in rules_of(view).values():
        assert verbs == {"get", "list", "watch"}
    assert f"{SINKS[0]}/scale" in rules_of(view)


# --- monitoring ------------------------------------------------------------------------------


def test_service_monitor_scrapes_the_operator_metrics_port(all_docs: list[Manifest]) -> None:
    monitor = one(all_docs, "ServiceMonitor")
    service = one(all_docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9500, "targetPort": "metrics", "protocol": "TCP"}
    ]
    # honorLabels keeps the sink's namespace label rather than the operator pod's.
    assert monitor["spec"]["endpoints"][0] == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "15s",
        "honorLabels": True,
    }


def test_pod_monitor_finds_workers_in_the_watched_namespaces(
    all_docs: list[Manifest], all_values: dict[str, Any]
) -> None:
    spec = one(all_docs, "PodMonitor")["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["analytics", "ingest"]}
    assert spec["selector"]["matchLabels"] == all_values["metrics"]["podMonitor"]["workerSelector"]
    cluster_wide = manifests({"metrics": {"podMonitor": {"enabled": True}}})
    assert one(cluster_wide, "PodMonitor")["spec"]["namespaceSelector"] == {"any": True}


def test_prometheus_rules_alert_on_growing_lag_and_not_ready(all_docs: list[Manifest]) -> None:
    rules = {r["alert"]: r for g in one(all_docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]}
    lag = rules["OlapsinkSinkLagGrowing"]
    assert "olapsink_sink_lag" in lag["expr"] and "> 50000" in lag["expr"] and "[10m]" in lag["expr"]
    assert lag["for"] == "10m"
    ready = rules["OlapsinkSinkNotReady"]
    assert ready["expr"] == "olapsink_sink_ready == 0" and ready["for"] == "5m"
    # Prometheus' own templating must survive Helm's.
    assert "{{ $labels.namespace }}/{{ $labels.name }}" in ready["annotations"]["summary"]
    assert "OlapsinkWorkerFatal" in rules


def test_alerts_use_only_metrics_that_are_exported(all_docs: list[Manifest]) -> None:
    exported = {
        family.name
        for registry in (WorkerMetrics().registry, OperatorMetrics().registry)
        for family in registry.collect()
    }
    exprs = [r["expr"] for g in one(all_docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\bolapsink_\w+", expr)}
    assert {"olapsink_sink_lag", "olapsink_sink_ready", "olapsink_fatal"} <= used
    assert used - exported == set()


def test_service_monitor_without_its_service_is_refused() -> None:
    values = {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}
    with pytest.raises(helm_python.HelmRenderError, match=r"metrics\.service\.enabled"):
        manifests(values)


# --- NOTES.txt -------------------------------------------------------------------------------


def test_notes_tell_the_user_what_to_run_next(all_values: dict[str, Any]) -> None:
    text = notes()
    assert f"kubectl -n {NAMESPACE} rollout status deployment/olapsink-operator" in text
    assert "kubectl create secret" in text.replace("-n <namespace> ", "")
    assert "--for=condition=Ready" in text
    assert "every namespace" in text
    assert "analytics, ingest" in notes(all_values)


def test_packaged_chart_ships_crds_and_templates_but_not_examples(tmp_path: Path) -> None:
    archive = helm_python.package(CHART_DIR, destination=tmp_path)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"olapsink/values.schema.json", "olapsink/templates/NOTES.txt"} <= names
    crds = {f"olapsink/crds/{p.name}" for p in (CHART_DIR / "crds").glob("*.yaml")}
    assert crds and crds == {n for n in names if n.startswith("olapsink/crds/")}
    assert not [n for n in names if "/examples/" in n]
