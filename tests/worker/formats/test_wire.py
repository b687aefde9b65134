import pytest
from olapsink_worker.errors import RecordError
from olapsink_worker.formats.wire import split_frame, split_message_indexes


def test_frame_gives_schema_id_and_payload():
    schema_id, payload = split_frame(b"\x00\x00\x01\x00\x02abc")
    assert schema_id == 65538
    assert bytes(payload) == b"abc"


@pytest.mark.parametrize("value", [b"", b"\x00\x00\x00", b'{"id": 1}', b"\x01\x00\x00\x00\x01x"])
def test_unframed_value_is_a_record_error_naming_the_wire_format(value):
    with pytest.raises(RecordError, match="Confluent wire format"):
        split_frame(value)


def test_single_zero_byte_means_first_message():
    indexes, body = split_message_indexes(memoryview(b"\x00rest"))
    assert indexes == [0]
    assert bytes(body) == b"rest"


def test_message_index_path_is_zigzag_varints():
    # count 2, then 1 and 300 (zig-zag 2 and 600 = 0xd8 0x04)
    indexes, body = split_message_indexes(memoryview(b"\x04\x02\xd8\x04msg"))
    assert indexes == [1, 300]
    assert bytes(body) == b"msg"


def test_truncated_message_index_header_is_a_record_error():
    with pytest.raises(RecordError, match="ends early"):
        split_message_indexes(memoryview(b"\x04\x02"))
