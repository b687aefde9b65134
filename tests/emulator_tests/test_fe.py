"""FE behaviour: auth, the Expect requirement, the 307 to the BE, REST lookups and FE-level errors."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import send, stream_load

pytestmark = pytest.mark.integration


def test_wrong_password_gets_401_with_a_basic_challenge(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    reply = httpx.put(
        f"{e.fe_url}/api/db/t/_stream_load",
        content=b"{}",
        auth=(e.user, "wrong"),
        headers={"Expect": "100-continue"},
    )
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic")


def test_missing_expect_header_is_an_fe_error_in_a_200(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    reply = send(e, "PUT", "/api/db/t/_stream_load", b"{}", expect=False)
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "FAILED"
    assert body["msg"] == "There is no 100-continue header"


def test_fe_redirects_to_the_be_keeping_path_and_query(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    reply = httpx.put(
        f"{e.fe_url}/api/db1/t1/_stream_load?x=1",
        content=b"{}",
        auth=(e.user, e.password),
        headers={"Expect": "100-continue"},
    )
    assert reply.status_code == 307
    location = urlsplit(reply.headers["location"])
    assert (location.hostname, location.port) == ("127.0.0.1", urlsplit(e.be_url).port)
    assert (location.path, location.query) == ("/api/db1/t1/_stream_load", "x=1")
    if e.flavor == "doris":
        # Doris puts the credentials into Location; StarRocks does not.
        assert (location.username, location.password) == (e.user, "s3cret%3Apw")
    else:
        assert location.username is None


def test_be_refuses_a_wrong_password_in_the_reply_json(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    reply = httpx.put(f"{e.be_url}/api/db/t/_stream_load", content=b"{}", auth=(e.user, "nope"))
    assert reply.status_code == 200
    assert reply.json()["Status"] == "Fail"
    assert "Access denied" in reply.json()["Message"]


def test_fe_does_not_send_100_continue_but_the_be_does(any_emulator: EmulatorHandle) -> None:
    """A client that waits for 100 Continue gets the 307 from the FE at once and 100 from the BE."""
    e = any_emulator
    import base64

    token = base64.b64encode(f"{e.user}:{e.password}".encode()).decode()

    def head_reply(url: str) -> bytes:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            sock.sendall(
                f"PUT /api/db/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
                "Expect: 100-continue\r\nContent-Length: 2\r\nformat: json\r\n\r\n".encode()
            )
            return sock.recv(200)

    assert head_reply(e.fe_url).startswith(b"HTTP/1.1 307")
    assert head_reply(e.be_url).startswith(b"HTTP/1.1 100 Continue")


def test_backends_endpoint_lists_the_be(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    reply = httpx.get(f"{e.fe_url}/api/backends", params={"is_alive": "true"}, auth=(e.user, e.password))
    backends = reply.json()["data"]["backends"]
    assert backends == [{"ip": "127.0.0.1", "http_port": urlsplit(e.be_url).port, "is_alive": True}]


def test_schema_endpoint_reports_key_model_and_columns(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    model = "UNIQUE" if e.flavor == "doris" else "PRIMARY"
    e.create_table(db, "t", model, {"id": "BIGINT", "name": "STRING"})

    data = httpx.get(f"{e.fe_url}/api/{db}/t/_schema", auth=(e.user, e.password)).json()["data"]

    assert data["keysType"] == ("UNIQUE_KEYS" if e.flavor == "doris" else "PRIMARY_KEYS")
    assert [(p["name"], p["type"]) for p in data["properties"]] == [("id", "BIGINT"), ("name", "STRING")]


def test_group_commit_mode_is_checked_at_the_fe(doris_emulator: EmulatorHandle) -> None:
    reply = send(doris_emulator, "PUT", "/api/db/t/_stream_load", b"{}", {"group_commit": "fast"})
    assert reply.json() == {
        "status": "FAILED",
        "msg": "Header `group_commit` can only be `sync_mode`, `async_mode` or `off_mode`.",
    }


def test_second_fe_serves_while_the_first_is_stopped(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    headers = {"format": "json", **({"read_json_by_line": "true"} if e.flavor == "doris" else {})}
    e.stop_fe(0)
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{e.fe_urls[0]}/api/{db}/t/_schema", auth=(e.user, e.password))
        reply = send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 5}', headers, base=e.fe_urls[1]).json()
        assert reply["Status"] == "Success"
    finally:
        e.start_fe(0)
    assert stream_load(e, db, "t", '{"id": 6}', **headers)["Status"] == "Success"
    assert e.query(f"SELECT id FROM `{db}`.t ORDER BY id") == [(5,), (6,)]


def test_doris_sql_api_runs_statements_on_the_database(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = e.create_database()
    e.create_table(db, "t", "UNIQUE", {"id": "INT"})
    url = f"{e.fe_url}/api/query/default_cluster/{db}"

    alter = httpx.post(
        url, json={"stmt": "ALTER TABLE t ADD COLUMN note VARCHAR(10)"}, auth=(e.user, e.password)
    )
    select = httpx.post(url, json={"stmt": "SELECT COUNT(*) AS n FROM t"}, auth=(e.user, e.password))
    broken = httpx.post(url, json={"stmt": "SELECT nope FROM t"}, auth=(e.user, e.password))

    assert alter.json()["code"] == 0 and alter.json()["data"]["type"] == "exec_status"
    assert select.json()["data"]["data"] == [["0"]]
    assert broken.json()["code"] != 0 and "nope" in broken.json()["msg"]
    reply = stream_load(e, db, "t", '{"id": 1, "note": "added"}', format="json")
    assert reply["Status"] == "Success"
    assert e.query(f"SELECT id, note FROM `{db}`.t") == [(1, "added")]


def test_stopped_be_refuses_connections_after_the_redirect(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    e.stop_be()
    try:
        with pytest.raises(httpx.ConnectError):
            send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 1}', {"format": "json"})
        e.inject_fault("http_500", times=1)  # the control methods still work without the BE
    finally:
        e.start_be()
    e.clear_faults()
    assert stream_load(e, db, "t", '{"id": 1}', format="json")["Status"] == "Success"
