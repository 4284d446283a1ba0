"""Metadata, topic creation and deletion, through confluent-kafka, kafka-python and kcat."""

import json
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic as KpNewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from clients import admin, consume, create_topic, produce_all, producer


def kcat(*args, input=None, timeout=30):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, timeout=timeout, check=True)


def test_kcat_reads_metadata(broker, topic_name):
    # Debian's kcat links librdkafka 2.0.2, which misreads non-default tagged fields.
    create_topic(broker.bootstrap, topic_name, partitions=3)
    meta = json.loads(kcat("-b", broker.bootstrap, "-L", "-J").stdout)
    assert [b["name"] for b in meta["brokers"]] == [broker.bootstrap]
    topic = next(t for t in meta["topics"] if t["topic"] == topic_name)
    assert sorted(p["partition"] for p in topic["partitions"]) == [0, 1, 2]
    assert all(p["leader"] == meta["brokers"][0]["id"] for p in topic["partitions"])


def test_kcat_produces_and_consumes(broker, topic_name):
    lines = [f"k{i}:value {i}" for i in range(50)]
    kcat("-b", broker.bootstrap, "-P", "-t", topic_name, "-K:", input="\n".join(lines).encode())
    out = kcat("-b", broker.bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e", "-f", "%k:%s\\n")
    assert out.stdout.decode().splitlines() == lines


def test_create_list_and_delete_with_confluent_admin(broker, topic_name):
    a = admin(broker.bootstrap)
    create_topic(broker.bootstrap, topic_name, partitions=4, config={"retention.ms": "3600000"})
    topics = a.list_topics(timeout=10).topics
    assert len(topics[topic_name].partitions) == 4

    with pytest.raises(KafkaException) as again:
        create_topic(broker.bootstrap, topic_name, partitions=4)
    assert again.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    a.delete_topics([topic_name], operation_timeout=10)[topic_name].result(timeout=15)
    deadline = time.time() + 10  # Kafka's brokers learn of a deletion just after it is answered
    while topic_name in a.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.2)
    assert topic_name not in a.list_topics(timeout=10).topics
    with pytest.raises(KafkaException) as gone:
        a.delete_topics([topic_name], operation_timeout=10)[topic_name].result(timeout=15)
    assert gone.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.parametrize("spec, code", [
    (dict(topic="bad name!", num_partitions=1), KafkaError.TOPIC_EXCEPTION),
    (dict(topic="x" * 250, num_partitions=1), KafkaError.TOPIC_EXCEPTION),
    (dict(num_partitions=0), KafkaError.INVALID_PARTITIONS),
    # Past maxPartitionsPerTopic (librdkafka itself refuses more than 100000).
    (dict(num_partitions=100_000), KafkaError.POLICY_VIOLATION),  # Kafka's code for over 10,000 at once
    (dict(num_partitions=1, config={"no.such.config": "1"}), KafkaError.INVALID_CONFIG),
    (dict(num_partitions=1, config={"retention.ms": "soon"}), KafkaError.INVALID_CONFIG),
])
def test_create_topic_errors(broker, topic_name, spec, code):
    spec = dict(spec)
    name = spec.pop("topic", topic_name)
    spec.setdefault("replication_factor", 1)
    a = admin(broker.bootstrap)
    result = a.create_topics([NewTopic(name, **spec)], operation_timeout=10)[name]
    with pytest.raises(KafkaException) as err:
        result.result(timeout=15)
    assert err.value.args[0].code() == code
    assert name not in admin(broker.bootstrap).list_topics(timeout=10).topics


def test_a_replication_factor_the_host_can_keep(broker, topic_name):
    """A host of one copy (kop serve, as a one-broker Kafka) refuses three replicas; on Pulsar the
    bookies keep the copies, and a factor of three (Kafka Connect's default) is taken."""
    a = admin(broker.bootstrap)
    result = a.create_topics([NewTopic(topic_name, 1, 3)], operation_timeout=10)[topic_name]
    if broker.replicates:
        result.result(timeout=15)
        assert topic_name in a.list_topics(timeout=10).topics
    else:
        with pytest.raises(KafkaException) as err:
            result.result(timeout=15)
        assert err.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR


def test_validate_only_creates_nothing(broker, topic_name):
    a = admin(broker.bootstrap)
    a.create_topics([NewTopic(topic_name, 2, 1)], validate_only=True)[topic_name].result(timeout=15)
    assert topic_name not in a.list_topics(timeout=10).topics


def test_kafka_python_admin(broker, topic_name):
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        a.create_topics([KpNewTopic(topic_name, 2, 1)])
        assert topic_name in a.list_topics()
        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics([KpNewTopic(topic_name, 2, 1)])
        described = a.describe_topics([topic_name])
        assert len(described[0]["partitions"]) == 2
        a.delete_topics([topic_name])
        assert topic_name not in a.list_topics()
        with pytest.raises(UnknownTopicOrPartitionError):
            a.delete_topics([topic_name])
    finally:
        a.close()


def test_auto_create_on_first_use(broker, topic_name):
    p = producer(broker.bootstrap)
    produce_all(p, topic_name, [(b"k", b"v", {})])
    meta = admin(broker.bootstrap).list_topics(timeout=10).topics[topic_name]
    assert len(meta.partitions) == 1  # defaultNumPartitions
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 1)] == [b"v"]

    other = topic_name + "-kp"
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap)
    try:
        assert kp.partitions_for(other) == {0}
    finally:
        kp.close()


def test_auto_create_can_be_disabled(fresh_broker, topic_name):
    b = fresh_broker({"allowAutoTopicCreation": False, "defaultNumPartitions": 2})
    meta = admin(b.bootstrap).list_topics(topic=topic_name, timeout=10).topics[topic_name]
    assert meta.error is not None and meta.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    create_topic(b.bootstrap, topic_name, partitions=2)
    assert len(admin(b.bootstrap).list_topics(timeout=10).topics[topic_name].partitions) == 2


def test_topics_survive_restart(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name, partitions=3, config={"retention.bytes": "1048576"})
    b.restart()
    assert len(admin(b.bootstrap).list_topics(timeout=10).topics[topic_name].partitions) == 3


def test_create_partitions(broker, topic_name):
    from confluent_kafka.admin import NewPartitions
    a = admin(broker.bootstrap)
    create_topic(broker.bootstrap, topic_name, partitions=2)
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"old", {"partition": 1})])
    a.create_partitions([NewPartitions(topic_name, 5)])[topic_name].result(timeout=15)
    assert len(a.list_topics(timeout=10).topics[topic_name].partitions) == 5
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"new", {"partition": 4})])
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [1, 4], 2)] in ([b"old", b"new"], [b"new", b"old"])

    for count, code in [(3, KafkaError.INVALID_PARTITIONS), (5, KafkaError.INVALID_PARTITIONS),
                        (100_000, KafkaError.POLICY_VIOLATION)]:
        with pytest.raises(KafkaException) as err:
            a.create_partitions([NewPartitions(topic_name, count)])[topic_name].result(timeout=15)
        assert err.value.args[0].code() == code
    with pytest.raises(KafkaException) as err:
        a.create_partitions([NewPartitions(topic_name + "-none", 3)])[topic_name + "-none"].result(timeout=15)
    assert err.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    a.create_partitions([NewPartitions(topic_name, 8)], validate_only=True)[topic_name].result(timeout=15)
    assert len(a.list_topics(timeout=10).topics[topic_name].partitions) == 5
