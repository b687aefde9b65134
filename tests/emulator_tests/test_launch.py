"""The emulator started as its own process, as the benchmarks start it."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.launch import launch, parse_address_line


def test_address_line_gives_every_fe_the_query_port_and_the_be() -> None:
    fes, query, be = parse_address_line(
        "fe=http://127.0.0.1:1,http://127.0.0.1:2 query=3 be=http://127.0.0.1:4\n"
    )
    assert fes == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert (query, be) == (3, "http://127.0.0.1:4")


@pytest.mark.integration
def test_launched_count_only_emulator_accepts_a_load() -> None:
    emulator = launch("starrocks", user="bench", password="pw")
    try:
        reply = httpx.put(
            f"{emulator.be_url}/api/db/t/_stream_load",
            content=b'[{"id": 1}, {"id": 2}]',
            headers={
                "label": "launch-1",
                "format": "json",
                "strip_outer_array": "true",
                "Expect": "100-continue",
            },
            auth=("bench", "pw"),
            timeout=10,
        ).json()
        assert (reply["Status"], reply["NumberLoadedRows"]) == ("Success", 2)
    finally:
        emulator.process.terminate()
        emulator.process.wait(10)
