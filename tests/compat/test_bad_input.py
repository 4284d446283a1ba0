"""Bad input gets an error code or a closed connection, while other clients carry on."""

import struct
import threading

import pytest
from confluent_kafka import TopicPartition

import wire
from clients import consume, consumer, create_topic, produce_all, producer


@pytest.fixture
def busy_client(broker, topic_name):
    """A well-behaved producer running while a test misbehaves; checked when the test ends."""
    stop = threading.Event()
    sent = []
    errors = []
    topic = topic_name + "-busy"

    def run():
        p = producer(broker.bootstrap, linger_ms=0)
        i = 0
        while not stop.is_set():
            try:
                produce_all(p, topic, [(None, b"busy %d" % i, {})], timeout=20)
                sent.append(i)
            except AssertionError as e:
                errors.append(e)
                return
            i += 1

    t = threading.Thread(target=run)
    t.start()
    yield
    stop.set()
    t.join(30)
    assert not errors, errors
    assert len(sent) > 0
    got = consume(broker.bootstrap, topic, [0], len(sent))
    assert [m.value() for m in got] == [b"busy %d" % i for i in sent]


def api_versions_still_served(broker):
    s = wire.connect(broker.bootstrap)
    s.sendall(wire.frame(18, 0, 42, b""))
    correlation_id, body = wire.read_response(s)
    s.close()
    return correlation_id == 42 and struct.unpack(">h", body[:2])[0] == 0


@pytest.mark.parametrize("payload", [
    pytest.param(b"\x00\x00\x00\x10" + bytes(range(200, 216)), id="garbage-unknown-api"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
    pytest.param(struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 8, id="oversized-length"),
    pytest.param(struct.pack(">i", -3), id="negative-length"),
    pytest.param(struct.pack(">i", 3) + b"abc", id="frame-shorter-than-a-header"),
    pytest.param(wire.frame(9999, 0, 1, b""), id="unknown-api-key"),
    pytest.param(wire.frame(3, 99, 1, b""), id="unsupported-metadata-version"),
    pytest.param(wire.frame(3, 1, 1, b"\x00\x00\x00\x05\x00"), id="malformed-metadata-body"),
    # Counts that would size a 100+ GB allocation if the decoder trusted them.
    pytest.param(wire.frame(1, 4, 1, struct.pack(">iiiib", -1, 500, 1, 1 << 20, 0) + struct.pack(">i", 0x7FFFFFFF)),
                 id="fetch-claiming-two-billion-topics"),
    pytest.param(wire.frame(3, 4, 1, struct.pack(">i", 0x7FFFFFFF) + b"\x01"), id="metadata-claiming-two-billion-topics"),
    pytest.param(wire.frame(9, 2, 1, wire.string("g") + struct.pack(">i", 1) + wire.string("t")
                            + struct.pack(">i", 0x7FFFFFFF)), id="offset-fetch-claiming-two-billion-partitions"),
])
def test_bad_frames_close_the_connection(broker, busy_client, payload):
    s = wire.connect(broker.bootstrap)
    s.sendall(payload)
    assert wire.closed_by_peer(s)
    s.close()
    assert api_versions_still_served(broker)


def test_truncated_frame_is_dropped(broker, busy_client):
    s = wire.connect(broker.bootstrap)
    s.sendall(struct.pack(">i", 100) + b"\x00\x12\x00\x00")
    s.shutdown(1)  # no more bytes will come
    assert wire.closed_by_peer(s)
    s.close()
    assert api_versions_still_served(broker)


def test_newer_api_versions_gets_a_v0_answer(broker):
    s = wire.connect(broker.bootstrap)
    # ApiVersions v3 and later have the flexible (v2) header: the client id, then tagged fields.
    s.sendall(wire.frame(18, 99, 5, b"\x00"))
    correlation_id, body = wire.read_response(s)
    s.close()
    error, count = struct.unpack(">hi", body[:6])
    assert (correlation_id, error) == (5, 35)  # UNSUPPORTED_VERSION
    keys = {struct.unpack(">hhh", body[6 + 6 * i:12 + 6 * i])[0] for i in range(count)}
    assert 18 in keys, "the answer says which ApiVersions versions to retry with (Kafka lists only those)"


def produce_raw(broker, topic, records, acks=-1):
    s = wire.connect(broker.bootstrap)
    s.sendall(wire.frame(0, 3, 11, wire.produce_v3(topic, 0, records, acks=acks)))
    correlation_id, body = wire.read_response(s)
    s.close()
    assert correlation_id == 11
    return wire.parse_produce_v3(body)


def test_produce_errors(broker, busy_client, topic_name):
    create_topic(broker.bootstrap, topic_name, config={"max.message.bytes": "2000"})
    good = wire.record_batch([b"one", b"two"])

    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF
    old_magic = bytearray(good)
    old_magic[16] = 1
    miscounted = bytearray(good)
    miscounted[57:61] = struct.pack(">i", 5)
    cases = {
        "crc": (bytes(corrupt), 2),  # CORRUPT_MESSAGE
        "truncated": (good[:-3], 87),  # INVALID_RECORD, as Kafka answers a batch cut short
        "two batches": (good + good, 87),  # INVALID_RECORD
        "magic v1": (bytes(old_magic), 87),  # INVALID_RECORD
        "no batch": (b"", 87),  # INVALID_RECORD
        "too large": (wire.record_batch([b"x" * 5000]), 10),  # MESSAGE_TOO_LARGE
    }
    for name, (records, code) in cases.items():
        [(_, _, error, offset)] = produce_raw(broker, topic_name, records)
        assert (error, offset) == (code, -1), name
    # A record count that disagrees with the header is caught by the CRC first unless re-signed.
    [(_, _, error, _)] = produce_raw(broker, topic_name, bytes(miscounted))
    assert error in (2, 87)

    [(_, _, error, _)] = produce_raw(broker, topic_name, good, acks=5)
    assert error == 21  # INVALID_REQUIRED_ACKS
    [(_, _, error, _)] = produce_raw(broker, topic_name + "-missing", good)
    assert error == 3  # UNKNOWN_TOPIC_OR_PARTITION
    # Only the coordinator writes its log: a client's bytes there would be replayed as offsets.
    # (A commit first, so that Kafka has created the topic.)
    committer = consumer(broker.bootstrap, group_id=f"{topic_name}-group")
    committer.commit(offsets=[TopicPartition(topic_name, 0, 0)], asynchronous=False)
    committer.close()
    [(_, _, error, _)] = produce_raw(broker, "__consumer_offsets", good)
    assert error == 17  # INVALID_TOPIC_EXCEPTION

    # Nothing bad was stored; a good batch lands at offset 0.
    [(_, _, error, offset)] = produce_raw(broker, topic_name, good)
    assert (error, offset) == (0, 0)
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 2)] == [b"one", b"two"]


def test_acks_zero_gets_no_response_but_stores(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    s = wire.connect(broker.bootstrap)
    s.sendall(wire.frame(0, 3, 1, wire.produce_v3(topic_name, 0, wire.record_batch([b"fire"]), acks=0)))
    s.sendall(wire.frame(18, 0, 2, b""))
    correlation_id, _ = wire.read_response(s)
    s.close()
    assert correlation_id == 2  # the produce had no response
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 1)] == [b"fire"]
