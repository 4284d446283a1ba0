"""When the storage under a partition fails, the client gets an error and nothing acknowledged is
lost. Needs a host that can inject faults (the stand-in broker's managed ledgers)."""

import pytest
from confluent_kafka import TopicPartition

from clients import consume, consumer, create_topic, produce_all, producer


@pytest.fixture
def faulty_broker(fresh_broker):
    b = fresh_broker()
    if not hasattr(b, "fault_dir"):
        pytest.skip("this host cannot inject storage faults")
    return b


def test_failed_append_reaches_the_client_and_loses_nothing(faulty_broker, topic_name):
    b = faulty_broker
    create_topic(b.bootstrap, topic_name)
    before = produce_all(producer(b.bootstrap), topic_name, [(None, b"before %d" % i, {}) for i in range(100)])

    (b.fault_dir / "fail-appends").touch()
    p = producer(b.bootstrap, retries=0, linger_ms=0, message_timeout_ms=5000)
    with pytest.raises(AssertionError) as failed:
        produce_all(p, topic_name, [(None, b"lost", {})], timeout=15)
    assert "KAFKA_STORAGE_ERROR" in str(failed.value) or "NOT_LEADER" in str(failed.value)
    (b.fault_dir / "fail-appends").unlink()

    after = produce_all(producer(b.bootstrap), topic_name, [(None, b"after %d" % i, {}) for i in range(100)])
    assert after[0][2] == before[-1][2] + 1, "a failed append must not take an offset"
    got = consume(b.bootstrap, topic_name, [0], 200)
    assert [m.value() for m in got] == [b"before %d" % i for i in range(100)] + [b"after %d" % i for i in range(100)]


def test_failed_read_serves_nothing_and_recovers(faulty_broker, topic_name):
    b = faulty_broker
    produce_all(producer(b.bootstrap), topic_name, [(None, b"v%d" % i, {}) for i in range(10)])
    (b.fault_dir / "fail-reads").touch()
    c = consumer(b.bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        for _ in range(5):
            msg = c.poll(1.0)
            assert msg is None or msg.error() is not None, "a read was served while the storage failed"
    finally:
        c.close()
    (b.fault_dir / "fail-reads").unlink()
    assert [m.value() for m in consume(b.bootstrap, topic_name, [0], 10)] == [b"v%d" % i for i in range(10)]
