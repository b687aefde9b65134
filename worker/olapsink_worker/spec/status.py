"""The status both kinds report. The operator writes it; the CRD schema is generated from it."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from olapsink_worker.spec.base import SpecModel


class StatusModel(SpecModel):
    # The operator may add fields before the models learn about them; the CRD preserves unknown fields.
    model_config = ConfigDict(extra="allow", frozen=False)


class Condition(StatusModel):
    """A Kubernetes-style condition (Ready, Progressing, Degraded...)."""

    type: str = Field(description="Condition type, e.g. Ready.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str | None = Field(default=None, description="CamelCase reason.")
    message: str | None = Field(default=None, description="Human-readable detail (never secret values).")
    last_transition_time: str | None = Field(
        default=None, description="RFC 3339 time of the last status change."
    )
    observed_generation: int | None = Field(default=None, description="Generation the condition is about.")


class LagStatus(StatusModel):
    """Consumer lag in records."""

    total: int | None = Field(default=None, description="Sum over all partitions.")
    topics: dict[str, int] = Field(default_factory=dict, description="Lag per topic.")


class SinkStatus(StatusModel):
    """What the operator observed."""

    observed_generation: int | None = Field(default=None, description="metadata.generation last reconciled.")
    state: str | None = Field(default=None, description="Running, Paused, Degraded, Failed...")
    replicas: int | None = Field(default=None, description="Worker pods (scale subresource).")
    ready_replicas: int | None = Field(default=None, description="Ready worker pods.")
    desired_replicas: int | None = Field(default=None, description="Replicas the autoscaler asks for.")
    selector: str | None = Field(default=None, description="Label selector of the pods (scale subresource).")
    partitions: int | None = Field(default=None, description="Partitions assigned to the consumer group.")
    lag: LagStatus | None = Field(default=None, description="Consumer lag.")
    tables: list[str] = Field(default_factory=list, description="Target tables (db.table).")
    conditions: list[Condition] = Field(default_factory=list, description="Conditions.")
