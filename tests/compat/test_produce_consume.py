"""Producing and consuming with real clients: volume, order, compression, headers, size, time."""

import threading
import time

import pytest
from confluent_kafka import TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

import wire
from clients import consume, consumer, create_topic, produce_all, producer


def test_ten_thousand_keyed_messages_in_order(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=3)
    messages = [(f"key-{i % 97}".encode(), f"{i}".encode(), {}) for i in range(10_000)]
    # Order within a partition is promised only to an idempotent producer: a plain one with many
    # requests in flight reorders batches it retries (as against Kafka, whose partitions may
    # not have a leader yet when CreateTopics returns).
    reports = produce_all(producer(broker.bootstrap, enable_idempotence=True), topic_name, messages)

    partition_of_key = {}
    for (key, _, _), (_, partition, _) in zip(messages, reports):
        assert partition_of_key.setdefault(key, partition) == partition, "a key moved partition"
    assert len({r[1] for r in reports}) == 3, "keys should spread over all partitions"

    got = consume(broker.bootstrap, topic_name, [0, 1, 2], 10_000)
    assert sorted(int(m.value()) for m in got) == list(range(10_000))
    by_partition = {}
    for m in got:
        by_partition.setdefault(m.partition(), []).append(m)
    for partition, msgs in by_partition.items():
        offsets = [m.offset() for m in msgs]
        assert offsets == list(range(len(msgs))), f"partition {partition} offsets not dense"
        values = [int(m.value()) for m in msgs]
        assert values == sorted(values), f"partition {partition} out of production order"
    acked = {(p, o): int(messages[i][1]) for i, (_, p, o) in enumerate(reports)}
    assert all(acked[(m.partition(), m.offset())] == int(m.value()) for m in got)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression(broker, topic_name, codec):
    values = [(f"{codec} message {i} " * 20).encode() for i in range(500)]
    produce_all(producer(broker.bootstrap, compression_type=codec, linger_ms=20), topic_name,
                [(None, v, {}) for v in values])
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 500)] == values


def test_kafka_python_roundtrip_with_gzip(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", compression_type="gzip", linger_ms=10)
    futures = [p.send(topic_name, key=b"k%d" % (i % 5), value=b"v%d" % i, partition=i % 2) for i in range(200)]
    meta = [f.get(timeout=30) for f in futures]
    p.close()
    assert sorted(m.offset for m in meta if m.partition == 0) == list(range(100))

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        c.assign([KpTopicPartition(topic_name, 0), KpTopicPartition(topic_name, 1)])
        c.seek_to_beginning()
        got = [r for r in c][:200]
    finally:
        c.close()
    assert sorted(r.value for r in got) == sorted(b"v%d" % i for i in range(200))
    for r in got:
        assert r.partition == int(r.value[1:]) % 2


def test_headers_round_trip(broker, topic_name):
    headers = [("trace", b"abc"), ("empty", b""), ("dup", b"1"), ("dup", b"2")]
    produce_all(producer(broker.bootstrap), topic_name, [(b"k", b"v", {"headers": headers})])
    (msg,) = consume(broker.bootstrap, topic_name, [0], 1)
    assert msg.headers() == headers


def test_one_mebibyte_message(broker, topic_name):
    # Kafka's default max.message.bytes (1 MiB + 12) leaves no room for a 1 MiB record's framing.
    create_topic(broker.bootstrap, topic_name, config={"max.message.bytes": "4000000"})
    big = bytes(range(256)) * 4096
    p = producer(broker.bootstrap, message_max_bytes=4_000_000)
    produce_all(p, topic_name, [(b"big", big, {}), (b"small", b"after", {})])
    got = consume(broker.bootstrap, topic_name, [0], 2, fetch_message_max_bytes=2_000_000)
    assert got[0].value() == big and got[1].value() == b"after"


def test_message_over_the_topic_limit_is_refused(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, config={"max.message.bytes": "10000"})
    with pytest.raises(AssertionError, match="MSG_SIZE_TOO_LARGE"):
        produce_all(producer(broker.bootstrap, message_max_bytes=4_000_000), topic_name,
                    [(None, b"x" * 50_000, {})])


def test_offsets_for_times(broker, topic_name):
    base = 1_700_000_000_000
    p = producer(broker.bootstrap, linger_ms=50)
    # Ten timestamps inside one batch and ten in batches of their own.
    produce_all(p, topic_name, [(None, b"a%d" % i, {"timestamp": base + i * 1000}) for i in range(10)])
    for i in range(10, 20):
        produce_all(p, topic_name, [(None, b"a%d" % i, {"timestamp": base + i * 1000})])
    c = consumer(broker.bootstrap)
    try:
        for ts, expected in [(base, 0), (base + 4500, 5), (base + 9000, 9), (base + 12_001, 13),
                             (base + 19_000, 19), (base + 60_000, -1), (0, 0)]:
            (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=10)
            assert tp.error is None
            assert tp.offset == expected, f"timestamp {ts}"
        low, high = c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10)
        assert (low, high) == (0, 20)
    finally:
        c.close()


def test_kafka_python_offsets_for_times_and_ends(broker, topic_name):
    base = 1_710_000_000_000
    produce_all(producer(broker.bootstrap), topic_name,
                [(None, b"x", {"timestamp": base + i}) for i in range(5)])
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        tp = KpTopicPartition(topic_name, 0)
        assert c.beginning_offsets([tp])[tp] == 0
        assert c.end_offsets([tp])[tp] == 5
        found = c.offsets_for_times({tp: base + 3})[tp]
        assert (found.offset, found.timestamp) == (3, base + 3)
    finally:
        c.close()


def test_fetch_long_poll_wakes_on_produce(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    wire.wait_until_fetchable(broker.bootstrap, topic_name)
    s = wire.connect(broker.bootstrap, timeout=30)
    result = {}

    def long_poll():
        start = time.time()
        s.sendall(wire.frame(1, 4, 7, wire.fetch_v4(topic_name, 0, 0, max_wait_ms=20_000)))
        result["response"] = wire.read_response(s)
        result["done"] = time.time()
        result["start"] = start

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(1.0)
    assert "response" not in result, "fetch returned before any data existed"
    produced_at = time.time()
    produce_all(producer(broker.bootstrap, linger_ms=0), topic_name, [(None, b"wake up", {})])
    t.join(25)
    s.close()
    assert "response" in result
    correlation_id, body = result["response"]
    error, hw, records = wire.parse_fetch_v4(body)
    assert (correlation_id, error, hw) == (7, 0, 1)
    assert b"wake up" in records
    # Woken by the append, far sooner than the 20 s max wait.
    assert result["done"] - produced_at < 5


def test_fetch_waits_max_wait_when_nothing_arrives(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    wire.wait_until_fetchable(broker.bootstrap, topic_name)
    s = wire.connect(broker.bootstrap)
    start = time.time()
    s.sendall(wire.frame(1, 4, 9, wire.fetch_v4(topic_name, 0, 0, max_wait_ms=800)))
    _, body = wire.read_response(s)
    s.close()
    error, hw, records = wire.parse_fetch_v4(body)
    assert (error, hw, records) == (0, 0, b"")
    assert time.time() - start >= 0.75


def test_fetch_out_of_range(broker, topic_name):
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"only", {})])
    s = wire.connect(broker.bootstrap)
    s.sendall(wire.frame(1, 4, 3, wire.fetch_v4(topic_name, 0, 5, max_wait_ms=0)))
    _, body = wire.read_response(s)
    s.close()
    error, hw, _ = wire.parse_fetch_v4(body)
    assert (error, hw) == (1, -1)  # OFFSET_OUT_OF_RANGE, and no offsets, as Kafka answers
