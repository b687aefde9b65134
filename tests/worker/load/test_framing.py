from __future__ import annotations

import json

import pytest
from olapsink_worker.load.dialect import Framing
from olapsink_worker.load.framing import frame_rows


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_json_array_is_one_array_of_the_rows_in_order(count: int) -> None:
    rows = [json.dumps({"id": i}).encode() for i in range(count)]
    body = frame_rows(rows, Framing("json_array"))
    assert json.loads(body) == [{"id": i} for i in range(count)]
    assert rows == [json.dumps({"id": i}).encode() for i in range(count)]  # the caller's rows untouched


def test_json_lines_and_csv_keep_rows_untouched() -> None:
    rows = [b'{"a":1}', b'{"a":2}']
    assert frame_rows(rows, Framing("json_lines")) == b'{"a":1}\n{"a":2}'
    csv = Framing("csv", row_delimiter=b"\x01", trailing_delimiter=True)
    assert frame_rows([b"1,a", b"2,b"], csv) == b"1,a\x012,b\x01"
