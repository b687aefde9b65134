"""A running emulator on a background event loop, driven synchronously from tests (`EmulatorHandle`)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import pymysql

from tests.emulator.faults import parse_rule
from tests.emulator.server import Emulator, EmulatorConfig
from tests.emulator.tables import create_table_sql

T = TypeVar("T")


class EmulatorHandle:
    """What the `doris_emulator` / `starrocks_emulator` fixtures give a test."""

    def __init__(self, config: EmulatorConfig, fe_count: int = 2) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"emulator-{config.flavor}", daemon=True
        )
        self._thread.start()
        self.emulator = Emulator(config)
        self._run(self.emulator.start([0] * fe_count, 0))

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the emulator's loop thread, which owns its state (works with the BE stopped)."""

        async def call() -> T:
            return fn(*args)

        return self._run(call())

    # ------------------------------------------------------------------ addresses and credentials

    @property
    def flavor(self) -> str:
        return self.config.flavor

    @property
    def user(self) -> str:
        return self.config.user

    @property
    def password(self) -> str:
        return self.config.password

    @property
    def fe_url(self) -> str:
        return self.emulator.fe_url(0)

    @property
    def fe_urls(self) -> list[str]:
        return [self.emulator.fe_url(i) for i in range(len(self.emulator.fes))]

    @property
    def be_url(self) -> str:
        return self.emulator.be_url

    @property
    def query_port(self) -> int:
        """The FE's MySQL port (127.0.0.1): SHOW TRANSACTION from the emulator, other SQL on MariaDB."""
        assert self.emulator.query is not None
        return self.emulator.query.port

    @property
    def mysql(self) -> dict[str, Any]:
        c = self.config
        return {
            "host": c.mysql_host,
            "port": c.mysql_port,
            "user": c.mysql_user,
            "password": c.mysql_password,
        }

    # ------------------------------------------------------------------ MariaDB side

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(database=database, autocommit=True, charset="utf8mb4", **self.mysql)

    def create_database(self, prefix: str = "t") -> str:
        """A new, uniquely named database (one per test keeps session-scoped emulators isolated)."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        return name

    def create_table(
        self,
        db: str,
        name: str,
        model: str,
        columns: Mapping[str, str] | Sequence[tuple[str, str]],
        key: Sequence[str] | None = None,
        sequence_col: str | None = None,
    ) -> None:
        """Create `db.name`: key model DUPLICATE or UNIQUE (StarRocks also PRIMARY), Doris-style types."""
        sql = create_table_sql(self.emulator.dialect, db, name, model, columns, key, sequence_col)
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql)

    def query(self, sql: str, args: Any = None, db: str | None = None) -> list[tuple[Any, ...]]:
        with self.connect(db) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    # ------------------------------------------------------------------ control

    def inject_fault(
        self,
        fault: str,
        times: int | None = 1,
        *,
        op: str | None = None,
        label_prefix: str | None = None,
        table: str | None = None,
        db: str | None = None,
    ) -> None:
        """Switch a fault on (see faults.py); ValueError names a wrong argument."""
        match = {
            k: v for k, v in {"op": op, "label_prefix": label_prefix, "table": table, "db": db}.items() if v
        }
        self.emulator.faults.add(parse_rule({"fault": fault, "match": match, "times": times}))

    def clear_faults(self) -> None:
        self.emulator.faults.clear()

    def configure(self, **settings: float) -> None:
        """Change label_keep_seconds, precommit_timeout, prepared_timeout, group_commit_interval or
        publish_delay (seconds) until the next reset; the fixtures reset before every test."""
        self._call(self.emulator.configure, dict(settings))

    def reset(self) -> None:
        """Clear faults and restore the start-up settings."""
        self._call(self.emulator.reset)

    def stats(self) -> dict[str, Any]:
        """`/_emulator/stats`: counters, and the rows of transactions now precommitted (read on the loop)."""
        return self._call(self.emulator.stats)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (expires labels and transactions without sleeping)."""
        self._call(self.emulator.advance_clock, float(seconds))

    def txns(self, db: str | None = None, label: str | None = None) -> list[dict[str, Any]]:
        """Known transactions (txn_id, db, table, label, state, reason), optionally for one db/label."""
        return self._call(self.emulator.list_txns, db, label)

    def stop_be(self) -> None:
        """Stop the BE: FEs still redirect to it, and the connection is refused."""
        self._run(self.emulator.stop_be())

    def start_be(self) -> None:
        self._run(self.emulator.start_be())

    def stop_fe(self, index: int = 0) -> None:
        self._run(self.emulator.stop_fe(index))

    def start_fe(self, index: int = 0) -> None:
        self._run(self.emulator.start_fe(index))

    def close(self) -> None:
        try:
            self._run(self.emulator.stop())
            self._run(_cancel_other_tasks())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


async def _cancel_other_tasks() -> None:
    """Connections still lingering after shutdown are cancelled so the loop stops cleanly."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
