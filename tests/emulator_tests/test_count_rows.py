"""Count-only framing checks (`body.count_rows`): which bodies are counted, which are refused and with what.

No server. The JSON-lines cases pin the rule "every document of the stream is an object" on bodies where a
shortcut over the raw bytes (say, counting lines that begin with `{`) would answer differently.
"""

from __future__ import annotations

import random

import msgspec
import pytest

from tests.emulator.body import count_rows
from tests.emulator.dialects import DORIS, STARROCKS, Dialect
from tests.emulator.options import LoadRejected, parse_options

LINES = {"format": "json", "read_json_by_line": "true"}
LINES_OF_ARRAYS = {**LINES, "strip_outer_array": "true"}
STREAM = {"format": "json"}
ARRAY = {"format": "json", "strip_outer_array": "true"}
NOT_OBJECT = "each line must be a JSON object"


def outcome(body: bytes, headers: dict[str, str], dialect: Dialect) -> int | str:
    """The row count, or the refusal's message."""
    try:
        return count_rows(body, parse_options(headers, dialect), dialect)
    except LoadRejected as exc:
        return exc.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a":1}\n{"a":2}\n', 2),
        (b'{"a":1}\r\n{"a":2}\r\n', 2),
        (b'{"a":1}\n\n  \n{"a":2}', 2),  # blank and whitespace-only lines are skipped
        (b'  {"a":1}\n\t{"a":2}', 2),  # leading whitespace before an object is fine
        (b'{"a":1} {"b":2}', 2),  # a stream of documents: two on one line count as two
        (b'{"a":\n1}', 1),  # and one document may span lines
        (b'{"a":"\xff"}', 1),  # string contents are not checked for UTF-8
        (b"", 0),
        (b"\n\n", 0),
        (b'{"a":1}\n[1]', NOT_OBJECT),
        (b'{"a":1}\n  [1]', NOT_OBJECT),
        (b'{"a":1}\n1', NOT_OBJECT),
        (b'{"a":1}\n  -1.5', NOT_OBJECT),
        (b'{"a":1}\n"x"', NOT_OBJECT),
        (b'{"a":1}\nnull', NOT_OBJECT),
        # Each line below starts with "{" (or is blank) as often as there are documents, yet one document
        # is an array: a line-based shortcut must not accept these.
        (b'[\n{"a":1}\n]', NOT_OBJECT),
        (b'{"x":\n{"a":1}} [1]', NOT_OBJECT),
        (b'{"a":1}[\n{"b":2}]', NOT_OBJECT),
        # A syntax error anywhere is reported as such, even after a non-object line.
        (b'[1]\n{"a":', "Parse json data failed: Input data was truncated"),
        (b'{"a":1}\n{"a":', "Parse json data failed: Input data was truncated"),
        (b"{1:2}", "Parse json data failed: JSON is malformed: expected '\"' (byte 1)"),
        (b'{"a":[1,}', "Parse json data failed: JSON is malformed: invalid character (byte 8)"),
        (b'{"a":1,}', "Parse json data failed: JSON is malformed: trailing comma in object (byte 7)"),
        (b'{"a":"\\q"}', "Parse json data failed: JSON is malformed: invalid escaped character (byte 7)"),
    ],
)
@pytest.mark.parametrize(("dialect", "headers"), [(DORIS, LINES), (STARROCKS, STREAM)])
def test_json_lines_are_counted_when_every_document_is_an_object(
    dialect: Dialect, headers: dict[str, str], body: bytes, expected: int | str
) -> None:
    if isinstance(expected, str):
        expected = dialect.message("DATA_QUALITY_ERROR", expected)
    assert outcome(body, headers, dialect) == expected


@pytest.mark.parametrize(
    ("dialect", "headers", "body", "expected"),
    [
        (DORIS, LINES_OF_ARRAYS, b'[{"a":1},{"a":2}]\n\n[{"a":3}]', 3),
        (
            DORIS,
            LINES_OF_ARRAYS,
            b'[{"a":1}]\n{"a":3}',
            "[DATA_QUALITY_ERROR]Parse json data failed: Expected `array`, got `object`",
        ),
        (DORIS, ARRAY, b'[{"a":1},{"a":2}]', 2),
        (DORIS, ARRAY, b'[{"a":1},', "[DATA_QUALITY_ERROR]Parse json data failed: Input data was truncated"),
        (STARROCKS, ARRAY, b'[{"a":1},{"a":2}]', 2),
        (STARROCKS, ARRAY, b'{"a":1}', "Parse json data failed: Expected `array`, got `object`"),
        # Without read_json_by_line Doris reads one document of any type.
        (DORIS, STREAM, b"[1]", 1),
        (
            DORIS,
            STREAM,
            b'{"a":1}\n{"a":2}',
            "[DATA_QUALITY_ERROR]Parse json data failed: JSON is malformed: trailing characters (byte 9)",
        ),
        # CSV is not parsed: rows are counted by the row delimiter.
        (DORIS, {"format": "csv"}, b"[1]\n  x\n\n", 3),
        (STARROCKS, {"format": "csv"}, b"1\t2\n3", 2),
    ],
)
def test_arrays_single_documents_and_csv_are_counted_as_before(
    dialect: Dialect, headers: dict[str, str], body: bytes, expected: int | str
) -> None:
    assert outcome(body, headers, dialect) == expected


def _by_the_rule(body: bytes, dialect: Dialect) -> int | str:
    """The count-only JSON-lines rule stated plainly: the body is a valid stream of JSON documents (each
    parsed on its own) and every one of them is an object."""
    try:
        docs = msgspec.json.Decoder(msgspec.Raw).decode_lines(body)
    except msgspec.DecodeError as exc:
        return dialect.message("DATA_QUALITY_ERROR", f"Parse json data failed: {exc}")
    if any(bytes(doc)[:1] != b"{" for doc in docs):
        return dialect.message("DATA_QUALITY_ERROR", NOT_OBJECT)
    return len(docs)


def test_mangled_json_lines_get_the_rule_s_answer() -> None:
    lines = [b'{"id":%d,"tags":["a",{"b":[1,2.5e3,null]}],"s":"x\\"y"}' % i for i in range(6)]
    pieces = [b"\n", b" ", b"\r\n", b"[", b"]", b"{", b"}", b",", b'"', b"1", b":", b"\n{", b"\n[", b""]
    rng = random.Random(20261121)
    for _ in range(3000):
        body = bytearray(b"\n".join(lines))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body) + 1)
            body[at : at + rng.randint(0, 2)] = rng.choice(pieces)
        for dialect, headers in ((DORIS, LINES), (STARROCKS, STREAM)):
            assert outcome(bytes(body), headers, dialect) == _by_the_rule(bytes(body), dialect), bytes(body)
