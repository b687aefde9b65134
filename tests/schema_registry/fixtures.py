"""``schema_registry``: the test registry (tests/schema_registry/server.py) with basic auth, per session.

Import it into a test module (``from tests.schema_registry.fixtures import schema_registry``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.schema_registry.server import SchemaRegistryServer

USER_INFO = "sr-user:sr-secret"


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[SchemaRegistryServer]:
    server = SchemaRegistryServer(user_info=USER_INFO)
    try:
        yield server
    finally:
        server.close()
