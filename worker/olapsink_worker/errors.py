"""The exception hierarchy: each class tells the caller what it may do next.

- ``ConfigError``: the sink description is wrong; nothing runs until the user fixes it.
- ``RecordError``: one record cannot be decoded, routed or loaded; it goes to the dead-letter
  topic when ``errors.tolerance`` is ``all``, else the sink stops.
- ``RetryableLoadError``: the database may accept the same load later; retry after ``delay``.
- ``FatalSinkError``: stop consuming, keep uncommitted offsets, report on the CR status.
- ``RegistryUnavailableError``: the schema registry cannot answer now; no record's fault. The engine holds
  the record's partition back and retries, and stops the sink only when the outage outlasts its bound.
"""

from __future__ import annotations

from dataclasses import dataclass


class OlapsinkError(Exception):
    """Base class of every error olapsink raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a sink description: where it is and what to do about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(OlapsinkError):
    """A sink description is invalid. Carries every problem found, each with its field path."""

    def __init__(self, problems: list[ConfigProblem] | ConfigProblem | str) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem("", problems)]
        elif isinstance(problems, ConfigProblem):
            problems = [problems]
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RecordError(OlapsinkError):
    """One record cannot be handled. ``topic``/``partition``/``offset`` name it when known."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        where = f"{topic}[{partition}]@{offset}: " if topic is not None else ""
        super().__init__(f"{where}{message}")
        self.reason = message


class SchemaUnusableError(RecordError):
    """The record names a schema the registry does not have, or one that does not parse or compile: the
    record can never be read, whatever is retried."""


class RegistryUnavailableError(OlapsinkError):
    """The schema registry at ``url`` did not answer usably (down, timing out, HTTP 5xx or 429) while
    schema id ``schema_id`` was fetched. Not the record's fault: it must be read again later, never
    dead-lettered."""

    def __init__(self, message: str, *, url: str, schema_id: int) -> None:
        super().__init__(message)
        self.url = url
        self.schema_id = schema_id


class RetryableLoadError(OlapsinkError):
    """The load may succeed if tried again after ``delay`` seconds (a hint; backoff may stretch it)."""

    def __init__(self, message: str, *, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


class FatalSinkError(OlapsinkError):
    """The sink cannot go on without a person: stop consuming, keep offsets, report the error."""

    def __init__(self, message: str, *, reason: str = "FatalError") -> None:
        super().__init__(message)
        self.reason = reason


class RegistryConfigError(FatalSinkError):
    """The schema registry refuses the worker (credentials, TLS, a URL that is not a registry): every
    record would fail the same way, so the sink stops instead of dead-lettering them."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="SchemaRegistryConfig")
