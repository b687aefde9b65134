"""The CRDs and sample sinks checked by kube-apiserver's own validation code (Go, built from crdcheck/).

Slow: the first run downloads k8s.io/apiextensions-apiserver from the Go module proxy and compiles it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from olapsink_operator import crd

from tests.operator.test_crd import FULL_DORIS, FULL_STARROCKS, broken, converted_seeds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain to build crdcheck"),
]

CONNECTOR_CONFIG_ONLY: dict[str, Any] = {
    "apiVersion": "olapsink.io/v1alpha1",
    "kind": "StarRocksSink",
    "metadata": {"name": "from-connect"},
    "spec": {"connectorConfig": {"topics": "t", "starrocks.http.url": "fe:8030", "tasks.max": 2}},
}

REJECTED: dict[str, tuple[dict[str, Any], str]] = {
    "both-topic-selectors": (broken(FULL_DORIS, "spec.kafka.topicsRegex", "^o"), "not both"),
    "no-database": (broken(FULL_DORIS, "spec.doris.database", None), "spec.doris.database is required"),
    "sasl-missing": (broken(FULL_DORIS, "spec.kafka.security.sasl", None), "sasl is required"),
    "dlq-without-tolerance": (broken(FULL_DORIS, "spec.errors.tolerance", "none"), "tolerance: all"),
    "min-above-max": (broken(FULL_DORIS, "spec.autoscaling.minReplicas", 9), "minReplicas"),
    "starrocks-group-commit": (broken(FULL_STARROCKS, "spec.load.groupCommit", "sync"), "Doris only"),
    "label-prefix": (broken(FULL_DORIS, "spec.load.labelPrefix", "a.b"), "labelPrefix"),
    "zero-records": (broken(FULL_DORIS, "spec.buffer.records", 0), "spec.buffer.records"),
    "bad-enum": (broken(FULL_DORIS, "spec.load.compression", "zstd"), "spec.load.compression"),
    "table-without-table": (broken(FULL_DORIS, "spec.tables", [{"topic": "o"}]), "spec.tables[0].table"),
}


@pytest.fixture(scope="module")
def crdcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("crdcheck") / "crdcheck"
    source = Path(__file__).parent / "crdcheck"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=source, check=True, timeout=1200)
    return binary


@pytest.fixture(scope="module")
def verdicts(crdcheck: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """file stem → errors, for both CRDs and every sample sink."""
    directory = tmp_path_factory.mktemp("sinks")
    samples = {
        "full-doris": FULL_DORIS,
        "full-starrocks": FULL_STARROCKS,
        "connect-only": CONNECTOR_CONFIG_ONLY,
    }
    samples |= {f"seed-{doc['metadata']['name']}-{i}": doc for i, doc in enumerate(converted_seeds())}
    samples |= {name: doc for name, (doc, _) in REJECTED.items()}
    for name, doc in samples.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    crds = [str(crd.CRD_DIR / name) for name in crd.render_crds()]
    done = subprocess.run(
        [str(crdcheck), *crds, "--", *sorted(str(p) for p in directory.iterdir())],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {Path(line["file"]).name.removesuffix(".yaml"): line["errors"] for line in lines}


def test_apiserver_accepts_both_crds(verdicts: dict[str, list[str]]) -> None:
    for name in crd.render_crds():
        assert verdicts[name.removesuffix(".yaml")] == []


def test_apiserver_accepts_valid_sinks(verdicts: dict[str, list[str]]) -> None:
    accepted = {k: v for k, v in verdicts.items() if k.startswith(("full-", "seed-", "connect-only"))}
    assert len(accepted) >= 7
    assert all(errors == [] for errors in accepted.values()), accepted


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_apiserver_rejects_what_the_models_reject(verdicts: dict[str, list[str]], name: str) -> None:
    expected = REJECTED[name][1]
    assert any(expected in error for error in verdicts[name]), verdicts[name]
