"""The chart ships exactly the repository's generated CRDs, and they fit the operator and the RBAC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from olapsink_operator.kube import PLURALS
from olapsink_worker.spec import load_manifest_file

from tests.helm.chart import CHART_DIR, REPO, manifests, one

REPO_CRDS = REPO / "crds"
CHART_CRDS = CHART_DIR / "crds"
EXAMPLES = sorted((CHART_DIR / "examples").glob("*.yaml"))
SYNC_HINT = "run scripts/sync-chart-crds.sh"


def crd_files(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(directory.glob("*.yaml"))}


def chart_crds() -> list[dict[str, Any]]:
    docs = [doc for text in crd_files(CHART_CRDS).values() for doc in yaml.safe_load_all(text) if doc]
    assert docs, f"helm/olapsink/crds/ holds no CRDs: {SYNC_HINT}"
    return docs


def test_chart_crds_are_the_repository_crds() -> None:
    repo = crd_files(REPO_CRDS)
    assert repo, "crds/ is empty: generate it with python -m olapsink_operator.crd"
    chart = crd_files(CHART_CRDS)
    assert sorted(chart) == sorted(repo), f"different CRD files: {SYNC_HINT}"
    stale = [name for name in repo if chart[name] != repo[name]]
    assert stale == [], f"stale CRDs in the chart {stale}: {SYNC_HINT}"


def test_chart_crds_validate_as_apiextensions_v1() -> None:
    for crd in chart_crds():
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        kubernetes_validate.validate(crd, "1.33", strict=True)


def test_crd_plurals_are_the_ones_the_operator_and_the_rbac_use() -> None:
    crd_plurals = {crd["spec"]["names"]["kind"]: crd["spec"]["names"]["plural"] for crd in chart_crds()}
    operator_plurals = {
        kind: plural for (api, kind), plural in PLURALS.items() if api.startswith("olapsink.io/")
    }
    assert crd_plurals == operator_plurals
    rules = one(manifests(), "ClusterRole", "olapsink-operator")["rules"]
    sink_rule = next(r for r in rules if r["apiGroups"] == ["olapsink.io"] and "/" not in r["resources"][0])
    assert sorted(sink_rule["resources"]) == sorted(crd_plurals.values())


def test_crds_have_status_and_scale_subresources() -> None:
    for crd in chart_crds():
        for version in crd["spec"]["versions"]:
            subresources = version.get("subresources", {})
            assert "status" in subresources
            assert subresources["scale"]["labelSelectorPath"] == ".status.selector"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_sinks_parse_and_fit_their_crd_schema(example: Path) -> None:
    load_manifest_file(example)  # raises ConfigError naming each problem
    manifest = yaml.safe_load(example.read_text())
    crd = next(c for c in chart_crds() if c["spec"]["names"]["kind"] == manifest["kind"])
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == manifest["apiVersion"].split("/")[1]]
    # CRD schemas are OpenAPI 3.0 (boolean exclusiveMinimum etc.), which Draft 4 reads correctly.
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    jsonschema.Draft4Validator(spec_schema).validate(manifest["spec"])


def test_crds_share_the_category_the_notes_tell_users_to_get() -> None:
    for crd in chart_crds():
        assert "olapsinks" in crd["spec"]["names"].get("categories", [])
