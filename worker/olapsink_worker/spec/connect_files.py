"""Reading Kafka Connect configs as users have them: .properties files, REST JSON bodies, curl commands."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from olapsink_worker.errors import ConfigError, ConfigProblem

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java ``.properties`` text: ``key=value``, ``key: value`` or ``key value``; ``#``/``!`` comments;
    backslash line continuations and escapes (``\\uXXXX``, ``\\=``...). Later keys win, as in Java."""
    result: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].lstrip()
        index += 1
        if not line or line[0] in "#!":
            continue
        # A line ending in an odd number of backslashes continues on the next line (leading space dropped).
        while _continues(line) and index < len(lines):
            line = line[:-1] + lines[index].lstrip()
            index += 1
        if _continues(line):
            line = line[:-1]
        key, value = _split_entry(line)
        result[_unescape(key)] = _unescape(value)
    return result


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_entry(line: str) -> tuple[str, str]:
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=: \t\f":
            break
        position += 1
    key = line[:position]
    rest = line[position:].lstrip(" \t\f")
    if rest[:1] in ("=", ":") and (position == len(line) or line[position] in " \t\f=:"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


def _unescape(text: str) -> str:
    out = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            following = text[position + 1]
            if following == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[position + 2 : position + 6]):
                out.append(chr(int(text[position + 2 : position + 6], 16)))
                position += 6
                continue
            out.append(_ESCAPES.get(following, following))
            position += 2
            continue
        out.append(char)
        position += 1
    return "".join(out)


def curl_body(text: str) -> str:
    """The ``-d``/``--data`` body of a ``curl`` command as the docs print it."""
    try:
        words = shlex.split(text.replace("\\\n", " "))
    except ValueError as exc:
        raise ConfigError(ConfigProblem("", f"cannot read the curl command: {exc}")) from None
    for index, word in enumerate(words):
        if word in ("-d", "--data", "--data-raw", "--data-binary") and index + 1 < len(words):
            return words[index + 1]
        for flag in ("--data=", "--data-raw=", "--data-binary="):
            if word.startswith(flag):
                return word.removeprefix(flag)
    raise ConfigError(ConfigProblem("", "the curl command has no -d/--data body"))


def read_connector_config(text: str) -> tuple[str | None, dict[str, str]]:
    """(name, config) from any of the three forms.

    JSON may be the POST /connectors body ``{"name", "config"}`` or a bare config map (PUT .../config).
    """
    stripped = text.strip()
    if stripped.startswith("curl"):
        stripped = curl_body(stripped).strip()
    if stripped.startswith("{"):
        try:
            body: Any = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ConfigError(ConfigProblem("", f"not valid JSON: {exc}")) from None
        if not isinstance(body, dict):
            raise ConfigError(ConfigProblem("", "the JSON body must be an object"))
        if isinstance(body.get("config"), dict):
            name = body.get("name") or body["config"].get("name")
            return (str(name) if name else None), _strings(body["config"])
        return (str(body["name"]) if body.get("name") else None), _strings(body)
    config = parse_properties(stripped)
    return config.get("name"), config


def _strings(config: dict[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
