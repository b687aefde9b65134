"""Count-only mode (framing checked, rows counted, no MariaDB) and the `python -m tests.emulator` CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
