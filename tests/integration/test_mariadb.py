"""The dev-stack MariaDB accepts the test user and stores what it is given."""

from __future__ import annotations

import uuid

import pytest

from tests.devstack.mariadb import MariaDB

pytestmark = pytest.mark.integration


def test_rows_inserted_into_a_new_table_are_read_back(mariadb: MariaDB) -> None:
    db = mariadb.create_database(f"devstack_{uuid.uuid4().hex[:8]}")
    conn = mariadb.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(32), note TEXT)")
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", [(1, "a", "x"), (2, "ü", None)])
            cur.execute("SELECT id, name, note FROM t ORDER BY id")
            rows = cur.fetchall()
    finally:
        conn.close()
    assert rows == ((1, "a", "x"), (2, "ü", None))


def test_create_database_starts_empty_when_the_name_was_used_before(mariadb: MariaDB) -> None:
    name = f"devstack_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(name)
    conn = mariadb.connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE leftover (id INT)")
    finally:
        conn.close()

    mariadb.create_database(name)
    conn = mariadb.connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            assert cur.fetchall() == ()
    finally:
        conn.close()


def test_test_user_has_a_password(mariadb: MariaDB) -> None:
    import pymysql

    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        pymysql.connect(host=mariadb.host, port=mariadb.port, user=mariadb.user, password="wrong")
