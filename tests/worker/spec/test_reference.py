"""Every key the seed docs list has a home, and docs/configuration.md matches the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from olapsink_worker.spec import reference
from olapsink_worker.spec.compat import translate

SEEDS = Path(__file__).parents[2] / "fixtures" / "seeds"


def doris_table_keys() -> list[str]:
    table = (SEEDS / "doris_configuration-items.md").read_text()
    return [m.group(1) for m in re.finditer(r"^\|\s*([a-z][\w.*]+)\s*\|", table, re.M)]


def starrocks_heading_keys() -> list[str]:
    return re.findall(r"^### (\S+)$", (SEEDS / "starrocks_parameters.md").read_text(), re.M)


def concrete(key: str) -> str:
    # Families are written with a wildcard or without their converter prefix in the docs.
    if key == "avro.topic2schema.filepath":
        return "value.converter.avro.topic2schema.filepath"
    return key.replace("*", "strict_mode")


@pytest.mark.parametrize(
    ("flavor", "keys"), [("doris", doris_table_keys), ("starrocks", starrocks_heading_keys)]
)
def test_every_documented_key_is_known(flavor: str, keys: object) -> None:
    found = keys()  # type: ignore[operator]
    assert len(found) >= 14
    for key in found:
        problems = translate(flavor, {concrete(key): "x"}).problems  # type: ignore[arg-type]
        assert not [p for p in problems if "unknown property" in p.message], key


def test_configuration_reference_is_up_to_date() -> None:
    assert reference.main(["--check"]) == 0, "run python -m olapsink_worker.spec.reference"


def test_reference_lists_defaults_of_each_kind() -> None:
    text = reference.render()
    assert "| `spec.buffer.bytes` | integer | 104857600 |" in text  # Doris
    assert "| `spec.buffer.bytes` | integer | 67108864 |" in text  # StarRocks
    assert "| `doris.topic2table.map` | doris | spec.tables |" in text
