from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (a fixture, used by name)
