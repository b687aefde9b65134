"""Building blocks shared by every part of the sink spec: the model base class and Secret references."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Kubernetes object names (DNS-1123 subdomain) and Secret data keys.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"


class SpecModel(BaseModel):
    """Base of every spec section: camelCase on the wire, snake_case in Python, no unknown fields.

    Unknown fields are errors because a misspelt field silently taking its default is the most common way a
    sink ends up doing something its author did not ask for.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class SecretKeyRef(SpecModel):
    """One key of a Secret in the sink's namespace. Secret values never appear in the sink object itself."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="Name of the Secret (same namespace).",
    )
    key: str = Field(
        min_length=1, max_length=253, pattern=SECRET_KEY, description="Key inside the Secret's data."
    )


class FieldProblems(ValueError):
    """Raised by cross-field validators: each entry is (sub-path relative to the model, message).

    A plain ``ValueError`` can only point at the model as a whole; this lets a validator name the exact
    field (``topicsRegex``) and report several problems at once. ``manifest.py`` expands it.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" if path else message for path, message in problems))


def raise_problems(problems: list[tuple[str, str]]) -> None:
    """Raise ``FieldProblems`` if there are any."""
    if problems:
        raise FieldProblems(problems)


def format_path(loc: tuple[str | int, ...]) -> str:
    """``("spec", "tables", 0, "table")`` → ``spec.tables[0].table``; odd keys as ``["fetch.max.bytes"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def refuse_typed_keys(settings: dict[str, str], typed: Mapping[str, str], what: str) -> dict[str, str]:
    """Pass-through maps (headers, librdkafka settings) must not repeat a typed field: it would be unclear
    which one wins. ``typed`` maps each such key to the field to use instead."""
    for key in settings:
        if key in typed:
            raise ValueError(f"{what} {key!r} has a typed home; set {typed[key]} instead")
    return settings
