"""DeleteRecords: the admin clients' `delete_records` moves a partition's log start offset; the
records below it are gone for every reader, at once and across restarts."""

import pytest
from confluent_kafka import OFFSET_END, KafkaError, KafkaException, TopicPartition
from kafka import KafkaAdminClient
from kafka import TopicPartition as KpTopicPartition

from brokers import HOST
from clients import admin, consume, consumer, create_topic, produce_all, producer


def fill(bootstrap, topic, partitions, per_partition):
    messages = [(None, f"p{p}-{i}".encode(), {"partition": p}) for p in range(partitions) for i in range(per_partition)]
    produce_all(producer(bootstrap), topic, messages)


def delete(bootstrap, topic, partition, offset):
    a = admin(bootstrap)
    tp = TopicPartition(topic, partition, offset)
    return a.delete_records([tp], operation_timeout=10)[tp].result(timeout=15).low_watermark


def watermarks(bootstrap, topic, partition):
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def test_records_below_the_offset_are_gone_for_readers(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    fill(broker.bootstrap, topic_name, 2, 50)
    assert delete(broker.bootstrap, topic_name, 0, 30) == 30
    assert watermarks(broker.bootstrap, topic_name, 0) == (30, 50)
    assert watermarks(broker.bootstrap, topic_name, 1) == (0, 50), "other partitions are untouched"
    got = consume(broker.bootstrap, topic_name, [0], 20)
    assert [m.offset() for m in got] == list(range(30, 50))
    assert got[0].value() == b"p0-30"

    # A consumer asking for a deleted offset is told it is out of range and resets.
    c = consumer(broker.bootstrap, auto_offset_reset="earliest")
    c.assign([TopicPartition(topic_name, 0, 10)])
    msg = None
    for _ in range(50):
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            break
    c.close()
    assert msg is not None and msg.offset() == 30

    assert delete(broker.bootstrap, topic_name, 0, 20) == 30, "the start never moves back"
    assert delete(broker.bootstrap, topic_name, 1, OFFSET_END) == 50
    assert watermarks(broker.bootstrap, topic_name, 1) == (50, 50)


def test_bad_requests_get_kafka_errors(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    fill(broker.bootstrap, topic_name, 1, 5)
    with pytest.raises(KafkaException) as err:
        delete(broker.bootstrap, topic_name, 0, 6)
    assert err.value.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE

    compacted = topic_name + "-compacted"
    create_topic(broker.bootstrap, compacted, config={"cleanup.policy": "compact"})
    produce_all(producer(broker.bootstrap), compacted, [(b"k", b"v", {})])
    with pytest.raises(KafkaException) as err:
        delete(broker.bootstrap, compacted, 0, 1)
    assert err.value.args[0].code() == KafkaError.POLICY_VIOLATION


def test_kafka_python_deletes_records(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    fill(broker.bootstrap, topic_name, 1, 10)
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        result = kp.delete_records({KpTopicPartition(topic_name, 0): 4})
        assert [r["low_watermark"] for r in result.values()] == [4]
    finally:
        kp.close()
    assert watermarks(broker.bootstrap, topic_name, 0) == (4, 10)


def test_deleted_records_stay_deleted_after_restart(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    if HOST == "kafka":
        pytest.skip("kop promises more here: Kafka checkpoints log start offsets once a minute, so kill -9 "
                    "soon after DeleteRecords brings deleted records back")
    create_topic(b.bootstrap, topic_name)
    fill(b.bootstrap, topic_name, 1, 40)
    assert delete(b.bootstrap, topic_name, 0, 25) == 25
    b.kill9()
    b.start()
    assert watermarks(b.bootstrap, topic_name, 0) == (25, 40)
    assert [m.offset() for m in consume(b.bootstrap, topic_name, [0], 15)] == list(range(25, 40))
