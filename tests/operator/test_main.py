"""The operator's command line: which namespaces it watches."""

from __future__ import annotations

import pytest
from olapsink_operator.main import parse_args, watched_namespaces


def test_no_namespace_means_cluster_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLAPSINK_WATCH_NAMESPACES", raising=False)
    assert watched_namespaces(parse_args([])) == []


def test_namespaces_from_options_and_environment_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLAPSINK_WATCH_NAMESPACES", "crm, shop,")
    assert watched_namespaces(parse_args(["-n", "shop", "--namespace", "ops"])) == ["crm", "ops", "shop"]
