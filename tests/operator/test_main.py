"""The operator's command line (which namespaces it watches) and its API credentials."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from olapsink_operator.kube import TokenFileAuth
from olapsink_operator.main import parse_args, watched_namespaces


def test_no_namespace_means_cluster_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLAPSINK_WATCH_NAMESPACES", raising=False)
    assert watched_namespaces(parse_args([])) == []


def test_namespaces_from_options_and_environment_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLAPSINK_WATCH_NAMESPACES", "crm, shop,")
    assert watched_namespaces(parse_args(["-n", "shop", "--namespace", "ops"])) == ["crm", "ops", "shop"]


def test_in_cluster_token_is_re_read_when_the_kubelet_rotates_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    auth = TokenFileAuth(str(token))
    request = httpx.Request("GET", "https://kube/api")
    assert next(auth.auth_flow(request)).headers["Authorization"] == "Bearer first"
    token.write_text("second\n")
    os.utime(token, (1, 1))  # a new mtime, as a rotation gives
    assert next(auth.auth_flow(httpx.Request("GET", "https://kube/api"))).headers["Authorization"] == (
        "Bearer second"
    )
