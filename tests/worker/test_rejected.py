from olapsink_worker.rejected import match_rejected


def test_doris_and_starrocks_error_lines_map_to_row_indices():
    rows = [b'{"id": 1}', b'{"id": 2}', b'{"id": 2}', b"3,x"]
    lines = [
        'Reason: too long. src line [{"id": 2}]; ',
        "Error: value is invalid. Row: 3,x",
        'Reason: again. src line [{"id": 2}]; ',
        "something else entirely",
    ]
    found = match_rejected(rows, lines)
    assert sorted(found.reasons) == [1, 2, 3]
    assert found.unmatched == ["something else entirely"]


def test_substring_fallback_for_other_formats():
    found = match_rejected([b"abc", b"xyz"], ["column(c) bad in row xyz here"])
    assert list(found.reasons) == [1]
