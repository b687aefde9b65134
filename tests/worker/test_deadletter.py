import pytest
from olapsink_worker.deadletter import DeadLetterQueue, DeadRecord, context_headers
from olapsink_worker.errors import FatalSinkError


def _record(**kw):
    base = dict(
        topic="t",
        partition=2,
        offset=7,
        value=b"v",
        key=b"k",
        stage="decode",
        error_class="RecordError",
        message="bad",
    )
    return DeadRecord(**{**base, **kw})


def test_context_headers_use_connect_names_and_add_load_context():
    h = dict(context_headers(_record()))
    assert h["__connect.errors.topic"] == b"t"
    assert h["__connect.errors.partition"] == b"2"
    assert h["__connect.errors.offset"] == b"7"
    assert h["__connect.errors.exception.message"] == b"bad"
    h = dict(context_headers(_record(offset=None, offset_range=(3, 9), label="L", error_url="http://e")))
    assert h["__connect.errors.offset"] == b""
    assert h["__olapsink.errors.offset.range"] == b"3-9"
    assert h["__olapsink.errors.label"] == b"L"


class FakeProducer:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    def produce(self, topic, value, key, headers, on_delivery):
        self.sent.append((topic, value, key, headers))
        on_delivery("broker down" if self.fail else None, None)

    def poll(self, timeout):
        return 0

    def flush(self, timeout):
        return 0


def test_flush_failure_is_fatal_and_no_topic_only_logs():
    producer = FakeProducer()
    dlq = DeadLetterQueue("dlq", lambda: producer)
    dlq.send(_record())
    assert dlq.pending
    dlq.flush()
    assert not dlq.pending and producer.sent[0][:3] == ("dlq", b"v", b"k")
    failing = DeadLetterQueue("dlq", lambda: FakeProducer(fail=True))
    failing.send(_record())
    with pytest.raises(FatalSinkError, match="broker down"):
        failing.flush()
    quiet = DeadLetterQueue(None, None)
    quiet.send(_record())
    assert not quiet.pending
