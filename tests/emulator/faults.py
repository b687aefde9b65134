"""Faults a test switches on for matching requests: `{"match": {...}, "fault": "...", "times": N}`.

Fault names: publish_timeout, http_500 (any http_NNN), slow:SECONDS (delay the reply),
slow_continue:SECONDS (delay `100 Continue`), drop (close the connection, nothing applied),
drop_after_commit (apply, then close without a reply), too_many_versions (-235), be_unreachable
(the FE redirects to a BE port where nothing listens).
Match keys (all optional): label_prefix, table, db, op (stream_load, 2pc, begin, load, prepare, commit,
rollback). `times` omitted or null means every matching request.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

OPS = ("stream_load", "2pc", "begin", "load", "prepare", "commit", "rollback")
MATCH_KEYS = ("label_prefix", "table", "db", "op")
_FAULT = re.compile(
    r"^(publish_timeout|drop|drop_after_commit|too_many_versions|be_unreachable|http_\d{3}|slow:\d+(\.\d+)?"
    r"|slow_continue:\d+(\.\d+)?)$"
)
# Where each fault is taken: at the FE redirect, in the BE's 100-continue, or by the handler doing the work.
REDIRECT = ("be_unreachable",)
CONTINUE = ("slow_continue",)


@dataclass
class Fault:
    name: str  # e.g. "slow"
    seconds: float = 0.0
    status: int = 0


@dataclass
class FaultRule:
    fault: Fault
    match: dict[str, str]
    times: int | None

    def matches(self, op: str, db: str | None, table: str | None, label: str | None) -> bool:
        m = self.match
        if "op" in m and m["op"] != op:
            return False
        if "db" in m and m["db"] != db:
            return False
        if "table" in m and m["table"] != table:
            return False
        return not ("label_prefix" in m and not (label or "").startswith(m["label_prefix"]))


def parse_rule(payload: Any) -> FaultRule:
    """Validate a fault request; ValueError says which field is wrong."""
    if not isinstance(payload, dict):
        raise ValueError("fault request must be a JSON object with 'fault' and optional 'match', 'times'")
    spec = payload.get("fault")
    if not isinstance(spec, str) or not _FAULT.match(spec):
        raise ValueError(
            f"fault: {spec!r} is not one of publish_timeout, http_NNN, slow:S, slow_continue:S, drop, "
            "drop_after_commit, too_many_versions, be_unreachable"
        )
    match = payload.get("match") or {}
    if not isinstance(match, dict) or any(k not in MATCH_KEYS for k in match):
        raise ValueError(f"match: keys must be among {MATCH_KEYS}, got {match!r}")
    if "op" in match and match["op"] not in OPS:
        raise ValueError(f"match.op: {match['op']!r} is not one of {OPS}")
    times = payload.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError(f"times: must be a positive integer or null, got {times!r}")
    name, _, arg = spec.partition(":")
    fault = Fault(name)
    if name in ("slow", "slow_continue"):
        fault.seconds = float(arg)
    elif name.startswith("http_"):
        fault.name, fault.status = "http", int(name[5:])
    return FaultRule(fault, {k: str(v) for k, v in match.items()}, times)


class FaultBook:
    """Thread-safe: the fixture adds rules from the test thread while the server takes them."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(
        self, stage: tuple[str, ...] | None, op: str, db: str | None, table: str | None, label: str | None
    ) -> Fault | None:
        """The first matching rule's fault for this stage (None = the handler stage), counting it down."""
        with self._lock:
            for rule in self._rules:
                at_stage = rule.fault.name in stage if stage else rule.fault.name not in REDIRECT + CONTINUE
                if at_stage and rule.matches(op, db, table, label):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"fault": r.fault.name, "match": r.match, "times": r.times} for r in self._rules]
