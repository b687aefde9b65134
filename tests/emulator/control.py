"""`/_emulator/*`: faults, stats, settings, clock and transaction listing for tests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.emulator.core import TUNABLE, EmulatorCore, json_response
from tests.emulator.faults import parse_rule


class ControlRoutes(EmulatorCore):
    """The control API, on the BE and every FE port."""

    async def control_add_fault(self, request: web.Request) -> web.StreamResponse:
        try:
            rule = parse_rule(await request.json())
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        self.faults.add(rule)
        return json_response({"ok": True, "faults": self.faults.describe()})

    async def control_list_faults(self, request: web.Request) -> web.StreamResponse:
        return json_response({"faults": self.faults.describe()})

    async def control_clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.faults.clear()
        return json_response({"ok": True})

    async def control_stats(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.stats())

    def stats(self) -> dict[str, Any]:
        """Counters since start; `rows` are rows of committed transactions (see state.py)."""
        s = self.registry.stats
        return {
            "loads": {k.split(".", 1)[1]: v for k, v in s.items() if k.startswith("loads.")},
            "requests": {
                k.split(".", 1)[1]: v for k, v in s.items() if k.startswith(("requests.", "redirects."))
            },
            "rows": s["rows"],
            "precommitted_rows": self.registry.precommitted_rows(),
            "aborted_rows": s["aborted_rows"],
            "bytes": s["bytes"],
            "filtered_rows": s["filtered_rows"],
        }

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply tunable settings; ValueError names the offending key."""
        for name, value in settings.items():
            if name not in TUNABLE:
                raise ValueError(f"{name}: not a tunable setting; use one of {TUNABLE}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: a number of seconds >= 0 is required, got {value!r}")
        for name, value in settings.items():
            setattr(self.config, name, float(value))
            if name in ("label_keep_seconds", "precommit_timeout"):
                setattr(self.registry, name, float(value))

    async def control_config(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        try:
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object of settings")
            self.configure(payload)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response({name: getattr(self.config, name) for name in TUNABLE})

    async def control_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return json_response({"ok": True})

    def reset(self) -> None:
        """Clear faults and restore the start-up settings (labels, transactions and the clock stay)."""
        self.faults.clear()
        self.configure(dict(self._defaults))

    async def control_clock(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        advance = payload.get("advance") if isinstance(payload, dict) else None
        if not isinstance(advance, (int, float)) or advance < 0:
            return json_response({"error": "advance: a number of seconds >= 0 is required"}, status=400)
        return json_response({"offset": self.advance_clock(float(advance))})

    def advance_clock(self, seconds: float) -> float:
        self.registry.clock.offset += seconds
        self.registry.sweep(force=True)
        return self.registry.clock.offset

    async def control_txns(self, request: web.Request) -> web.StreamResponse:
        return json_response({"txns": self.list_txns(request.query.get("db"), request.query.get("label"))})

    def list_txns(self, db: str | None, label: str | None) -> list[dict[str, Any]]:
        self.registry.sweep(force=True)
        return [
            {
                "txn_id": t.txn_id,
                "db": t.db,
                "table": t.table,
                "label": t.label,
                "state": t.state.value,
                "reason": t.reason,
            }
            for t in self.registry.txns.values()
            if (db is None or t.db == db) and (label is None or t.label == label)
        ]
