"""Kafka Connect compatibility: connector properties → typed spec fields (placeholder; filled in next)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from olapsink_worker.errors import ConfigProblem


@dataclass
class Translation:
    """The typed fields a connector config stands for, where each came from, and what was wrong."""

    spec: dict[str, Any] = field(default_factory=dict)
    origins: dict[tuple[str | int, ...], str] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def translate(flavor: str, config: dict[str, Any]) -> Translation:
    return Translation()


def merge_into_spec(
    spec: dict[str, Any], translation: Translation
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    return spec, []
