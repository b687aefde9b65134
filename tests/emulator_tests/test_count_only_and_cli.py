"""Count-only mode (framing checked, rows counted, no MariaDB) and the `python -m tests.emulator` CLI."""

from __future__ import annotations

import base64
import gzip
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import stream_load

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("headers", "body", "rows"),
    [
        ({"format": "json", "read_json_by_line": "true"}, b'{"a":1}\n{"a":2}\n\n{"a":3}', 3),
        ({"format": "json", "strip_outer_array": "true"}, b'[{"a":1},{"a":2}]', 2),
        ({"format": "json"}, b'{"a":1}', 1),
        ({"format": "csv"}, b"1\tx\n2\ty\n", 2),
    ],
)
def test_count_only_counts_rows_of_each_framing(
    count_only_emulator: EmulatorHandle, headers: dict[str, str], body: bytes, rows: int
) -> None:
    reply = stream_load(count_only_emulator, "anydb", "anytable", body, **headers)
    assert reply["Status"] == "Success"
    assert reply["NumberLoadedRows"] == rows
    assert count_only_emulator.stats()["rows"] == rows


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"format": "json", "read_json_by_line": "true"}, b'{"a":1}\n{"a":'),
        ({"format": "json", "read_json_by_line": "true"}, b'{"a":1}\n[1,2]'),
        ({"format": "json", "strip_outer_array": "true"}, b'[{"a":1},'),
    ],
)
def test_count_only_rejects_broken_framing(
    count_only_emulator: EmulatorHandle, headers: dict[str, str], body: bytes
) -> None:
    reply = stream_load(count_only_emulator, "anydb", "anytable", body, **headers)
    assert reply["Status"] == "Fail"
    assert reply["Message"].startswith("[DATA_QUALITY_ERROR]")


# ~4.6 MB: the BE receives it in many socket reads.
BIG_BODY = b"".join(b'{"id":%d,"pad":"%s"}\n' % (i, b"x" * 100) for i in range(40_000))


def _in_chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(
    "framing", ["content-length", "chunked", "content-encoding gzip", "compress_type gz"]
)
def test_count_only_reads_whole_bodies_however_framed(
    count_only_emulator: EmulatorHandle, framing: str
) -> None:
    e = count_only_emulator
    headers = {"Expect": "100-continue", "format": "json", "read_json_by_line": "true"}
    content: bytes | Iterator[bytes] = BIG_BODY
    if framing == "chunked":
        content = _in_chunks(BIG_BODY)
    elif framing == "content-encoding gzip":
        content, headers["Content-Encoding"] = gzip.compress(BIG_BODY, 1), "gzip"
    elif framing == "compress_type gz":
        content, headers["compress_type"] = gzip.compress(BIG_BODY, 1), "gz"
    with httpx.Client(auth=(e.user, e.password), timeout=30) as client:
        reply = client.put(f"{e.be_url}/api/d/t/_stream_load", content=content, headers=headers).json()
    assert (reply["Status"], reply["NumberLoadedRows"]) == ("Success", 40_000)
    assert reply["LoadBytes"] == (len(BIG_BODY) if framing in ("content-length", "chunked") else len(content))


def test_count_only_counts_nothing_of_a_body_cut_short(count_only_emulator: EmulatorHandle) -> None:
    e = count_only_emulator
    be = urlsplit(e.be_url)
    assert be.hostname and be.port
    credentials = base64.b64encode(f"{e.user}:{e.password}".encode()).decode()
    head = (
        "PUT /api/d/t/_stream_load HTTP/1.1\r\nHost: be\r\n"
        f"Authorization: Basic {credentials}\r\nformat: csv\r\nlabel: cut\r\nContent-Length: 4000\r\n\r\n"
    )
    with socket.create_connection((be.hostname, be.port)) as sock:
        sock.sendall(head.encode() + b"1\n" * 1000)  # half of the announced body, then the connection closes
    reply = stream_load(e, "d", "t", b"1\n2\n", format="csv", label="after")
    assert reply["NumberLoadedRows"] == 2
    assert e.txns(label="cut") == []
    assert e.stats()["rows"] == 2


def test_cli_prints_ports_then_ready_and_serves() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.emulator",
            "--flavor",
            "starrocks",
            "--fe-port",
            "0",
            "--be-port",
            "0",
            "--extra-fe-port",
            "0",
            "--count-only",
            "--user",
            "u",
            "--password",
            "p",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        addresses = dict(field.split("=", 1) for field in proc.stdout.readline().split())
        assert proc.stdout.readline().strip() == "ready"
        fes = addresses["fe"].split(",")
        be = addresses["be"]
        assert int(addresses["query"]) > 0
        assert len(fes) == 2
        reply = httpx.put(
            f"{fes[1]}/api/d/t/_stream_load",
            content=b"{}",
            auth=("u", "p"),
            headers={"Expect": "100-continue"},
        )
        assert reply.status_code == 307
        assert reply.headers["location"].startswith(be)
    finally:
        proc.terminate()
        proc.wait(10)
