"""Whole DorisSink / StarRocksSink objects, and parsing a manifest into one with every problem reported."""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from olapsink_worker.errors import ConfigError, ConfigProblem
from olapsink_worker.spec import compat
from olapsink_worker.spec.base import DNS_SUBDOMAIN, FieldProblems, SpecModel, format_path
from olapsink_worker.spec.sections import LABEL_PREFIX_MAX_LENGTH, Flavor
from olapsink_worker.spec.sink import DorisSinkSpec, SinkSpecBase, StarRocksSinkSpec

GROUP = "olapsink.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class ObjectMeta(SpecModel):
    """The metadata fields olapsink reads; the rest of a Kubernetes object's metadata is ignored."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Object name.")
    namespace: str = Field(default="default", min_length=1, max_length=63, description="Object namespace.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None


class _SinkObject(SpecModel):
    api_version: Literal["olapsink.io/v1alpha1"] = Field(
        default="olapsink.io/v1alpha1", description="API group/version."
    )
    metadata: ObjectMeta
    status: dict[str, Any] | None = Field(default=None, description="Written by the operator; ignored here.")

    spec: SinkSpecBase

    @property
    def flavor(self) -> Flavor:
        """``doris`` or ``starrocks``."""
        return self.spec.flavor

    @property
    def effective_group_id(self) -> str:
        """The consumer group: spec.kafka.groupId, else ``olapsink-<namespace>-<name>``."""
        return self.spec.kafka.group_id_for(self.metadata)

    @property
    def effective_label_prefix(self) -> str:
        """spec.load.labelPrefix, else ``<namespace>_<name>`` made label-safe and at most 64 characters."""
        if self.spec.load.label_prefix is not None:
            return self.spec.load.label_prefix
        return default_label_prefix(self.metadata.namespace, self.metadata.name)


class DorisSink(_SinkObject):
    """A DorisSink object: consume Kafka topics into Apache Doris."""

    kind: Literal["DorisSink"] = "DorisSink"
    spec: DorisSinkSpec


class StarRocksSink(_SinkObject):
    """A StarRocksSink object: consume Kafka topics into StarRocks."""

    kind: Literal["StarRocksSink"] = "StarRocksSink"
    spec: StarRocksSinkSpec


Sink = DorisSink | StarRocksSink

KINDS: dict[str, type[DorisSink] | type[StarRocksSink]] = {
    "DorisSink": DorisSink,
    "StarRocksSink": StarRocksSink,
}
FLAVORS: dict[str, Flavor] = {"DorisSink": DorisSinkSpec.flavor, "StarRocksSink": StarRocksSinkSpec.flavor}


def default_label_prefix(namespace: str, name: str) -> str:
    """``<namespace>_<name>`` with characters neither database accepts in labels replaced by ``_``.

    Long names are cut and given a short hash so two sinks never share a prefix by truncation.
    """
    prefix = re.sub(r"[^-_A-Za-z0-9]", "_", f"{namespace}_{name}")
    if len(prefix) > LABEL_PREFIX_MAX_LENGTH:
        digest = hashlib.sha256(prefix.encode()).hexdigest()[:8]
        prefix = f"{prefix[: LABEL_PREFIX_MAX_LENGTH - 9]}-{digest}"
    return prefix


def parse_manifest(doc: Any) -> Sink:
    """Validate a DorisSink/StarRocksSink manifest (a dict from YAML/JSON/the API) into a typed Sink.

    ``spec.connectorConfig`` is translated into typed fields first. Raises ``ConfigError`` listing every
    problem found, each with its path (``spec.buffer.records``, ``spec.connectorConfig["topics"]``).
    """
    if not isinstance(doc, dict):
        raise ConfigError(
            ConfigProblem("", "a sink manifest must be a mapping (apiVersion, kind, metadata, spec)")
        )
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ConfigError(ConfigProblem("kind", f"must be DorisSink or StarRocksSink, not {kind!r}"))
    model = KINDS[kind]
    problems: list[ConfigProblem] = []
    origins: dict[tuple[str | int, ...], str] = {}
    spec = doc.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("connectorConfig"), dict) and spec["connectorConfig"]:
        translation = compat.translate(FLAVORS[kind], spec["connectorConfig"])
        merged, conflicts = compat.merge_into_spec(spec, translation)
        problems += translation.problems + conflicts
        origins = translation.origins
        doc = {**doc, "spec": merged}
    try:
        sink = model.model_validate(doc)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, model, origins)
    if problems:
        raise ConfigError(problems)
    return sink


def load_manifest_file(path: str | Path) -> Sink:
    """Read one sink manifest from a YAML (or JSON) file and parse it."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(ConfigProblem("", f"{path}: not valid YAML: {exc}")) from None
    return parse_manifest(doc)


def problems_from_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    origins: dict[tuple[str | int, ...], str] | None = None,
) -> list[ConfigProblem]:
    """One ConfigProblem per pydantic error, with a readable path and an actionable message.

    A value that came from ``spec.connectorConfig`` is reported at the connector key it came from.
    """
    problems = []
    for error in exc.errors():
        loc: tuple[str | int, ...] = tuple(error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblems):
            for sub_path, message in cause.problems:
                sub = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", sub_path) if p)
                problems.append(_problem(loc + sub, message, origins))
            continue
        problems.append(_problem(loc, _message(error, model, loc), origins))
    return problems


def _problem(
    loc: tuple[str | int, ...], message: str, origins: dict[tuple[str | int, ...], str] | None
) -> ConfigProblem:
    if origins and loc[:1] == ("spec",):
        for length in range(len(loc) - 1, 0, -1):
            key = origins.get(loc[1 : length + 1])
            if key is not None:
                return ConfigProblem(
                    f'spec.connectorConfig["{key}"]', f"{message} (read as {format_path(loc)})"
                )
    return ConfigProblem(format_path(loc), message)


def _message(error: Any, model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        known = _sibling_fields(model, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return "unknown field" + (
            f"; did you mean {hint[0]!r}?" if hint else f"; known fields: {', '.join(known)}"
        )
    if kind == "string_type" and isinstance(error.get("input"), bool | int | float):
        # YAML reads `true`, `600` or `0.1` as a boolean or a number; headers and settings are strings.
        value = error["input"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return f'must be a string: quote it in YAML ("{text}")'
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _sibling_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The wire names of the fields of the model found at ``loc`` (best effort, for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        match = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if match is None:
            return []
        current = model_in(match.annotation)
    fields = getattr(current, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def model_in(annotation: Any) -> Any:
    """The pydantic model inside a field annotation (``X | None``, ``list[X]``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found is not None:
            return found
    return None
