"""Small manifests to build test cases from."""

from __future__ import annotations

import copy
from typing import Any

import pytest

DORIS: dict[str, Any] = {
    "apiVersion": "olapsink.io/v1alpha1",
    "kind": "DorisSink",
    "metadata": {"name": "orders", "namespace": "shop"},
    "spec": {
        "kafka": {"bootstrapServers": "kafka:9092", "topics": ["orders"]},
        "doris": {"feHosts": ["fe1"], "database": "shop_db"},
        "tables": [{"topic": "orders", "table": "orders_tbl"}],
    },
}

STARROCKS: dict[str, Any] = {
    "apiVersion": "olapsink.io/v1alpha1",
    "kind": "StarRocksSink",
    "metadata": {"name": "orders", "namespace": "shop"},
    "spec": {
        "kafka": {"bootstrapServers": "kafka:9092", "topics": ["orders"]},
        "starrocks": {"httpUrls": ["fe1:8030"], "database": "shop_db"},
    },
}


@pytest.fixture
def doris_doc() -> dict[str, Any]:
    """A minimal valid DorisSink manifest (a fresh copy per test)."""
    return copy.deepcopy(DORIS)


@pytest.fixture
def starrocks_doc() -> dict[str, Any]:
    """A minimal valid StarRocksSink manifest (a fresh copy per test)."""
    return copy.deepcopy(STARROCKS)
