"""Root conftest: registers the fixture plugins shared by every test package."""

pytest_plugins = [
    "tests.devstack.fixtures",
    "tests.emulator.fixtures",
]
