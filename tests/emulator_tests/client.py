"""A minimal Stream Load client, as a real connector behaves: Basic auth, `Expect: 100-continue`, and a
307 from the FE followed by hand with the Authorization header sent again to the BE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.emulator.handle import EmulatorHandle


def auth(emulator: EmulatorHandle) -> tuple[str, str]:
    return (emulator.user, emulator.password)


def send(
    emulator: EmulatorHandle,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    base: str | None = None,
    expect: bool = True,
    timeout: float = 30.0,
) -> httpx.Response:
    """Send to the FE (or `base`), follow one 307 to the BE, and return the final reply."""
    all_headers = dict(headers or {})
    if expect:
        all_headers.setdefault("Expect", "100-continue")
    with httpx.Client(auth=auth(emulator), timeout=timeout) as client:
        reply = client.request(method, (base or emulator.fe_url) + path, content=body, headers=all_headers)
        if reply.status_code == 307:
            parts = urlsplit(reply.headers["location"])
            # Userinfo in Location is for clients that take credentials from the URL; we resend auth.
            netloc = parts.netloc.rsplit("@", 1)[-1]
            target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
            reply = client.request(method, target, content=body, headers=all_headers)
        return reply


def stream_load(
    emulator: EmulatorHandle, db: str, table: str, body: bytes | str, **headers: Any
) -> dict[str, Any]:
    data = body.encode() if isinstance(body, str) else body
    reply = send(
        emulator,
        "PUT",
        f"/api/{db}/{table}/_stream_load",
        data,
        {k.replace("__", "."): str(v) for k, v in headers.items()},
    )
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def json_lines(rows: list[dict[str, Any]]) -> str:
    import json

    return "\n".join(json.dumps(r) for r in rows)
