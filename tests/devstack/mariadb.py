"""What tests get from the `mariadb` fixture: connection details and a few conveniences."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymysql
from pymysql.connections import Connection

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def quote_identifier(name: str) -> str:
    """Backtick-quote a database/table name; refuses names a test would not use (spaces, quotes, dots)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"identifier {name!r} must be 1-64 letters, digits, '_' or '$'")
    return f"`{name}`"


@dataclass(frozen=True)
class MariaDB:
    """A reachable MariaDB server and a user allowed to do anything on it."""

    host: str
    port: int
    user: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self, database: str | None = None) -> Connection:
        """A new autocommit pymysql connection; the caller closes it."""
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
        )

    def create_database(self, name: str) -> str:
        """Create an empty database `name`, dropping one left over from an earlier run; returns the name."""
        quoted = quote_identifier(name)
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quoted}")
                cur.execute(f"CREATE DATABASE {quoted}")
        finally:
            conn.close()
        return name
