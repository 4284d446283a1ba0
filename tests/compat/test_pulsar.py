"""What only a real Pulsar broker can show: the data is Pulsar's, and Pulsar's own faults (bundle
unloads, size policies, terminated and deleted topics) reach Kafka clients as Kafka errors, with
nothing acknowledged lost. Runs on the `pulsar` host only."""

import threading
import time
import urllib.error

import pytest
from confluent_kafka import TopicPartition

import wire
from brokers import HOST
from clients import consume, consumer, create_topic, produce_all, producer

pytestmark = pytest.mark.skipif(HOST != "pulsar", reason="needs a real Pulsar broker")

NONE, UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, NOT_LEADER_OR_FOLLOWER = 0, 3, 10, 6
INVALID_TOPIC_EXCEPTION = 17


def topic_path(name, partition=None):
    suffix = "" if partition is None else f"-partition-{partition}"
    return f"/admin/v2/persistent/public/default/{name}{suffix}"


def raw_produce(b, topic, values, partition=0):
    """One Produce v3 request: the error code the broker answers, with no client retry."""
    with wire.connect(b.bootstrap, timeout=30) as s:
        s.sendall(wire.frame(0, 3, 7, wire.produce_v3(topic, partition, wire.record_batch(values))))
        _, body = wire.read_response(s)
    [(_, _, error, _)] = wire.parse_produce_v3(body)
    return error


def unload(b, name, partition=0):
    status, _ = b.admin(topic_path(name, partition) + "/unload", method="PUT")
    assert status in (200, 204)


def test_kafka_topics_are_partitioned_pulsar_topics_holding_the_entries(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    p = producer(broker.bootstrap, linger_ms=0)
    for i in range(5):
        produce_all(p, topic_name, [(None, b"v%d" % i, {"partition": 0})])
    _, listed = broker.admin("/admin/v2/persistent/public/default/partitioned")
    assert f"persistent://public/default/{topic_name}" in listed
    _, meta = broker.admin(topic_path(topic_name) + "/partitions")
    assert meta["partitions"] == 2
    _, stats = broker.admin(topic_path(topic_name, 0) + "/internalStats")
    # One Kafka batch is one ManagedLedger entry; each was produced alone.
    assert stats["numberOfEntries"] == 5, stats
    assert stats["ledgers"], stats


def test_offsets_survive_in_bookkeeper_across_kill9(fresh_broker, topic_name):
    b = fresh_broker()
    acked = produce_all(producer(b.bootstrap), topic_name, [(None, b"m%d" % i, {}) for i in range(50)])
    b.kill9()
    b.start()
    got = consume(b.bootstrap, topic_name, [0], 50)
    assert [m.value() for m in got] == [b"m%d" % i for i in range(50)]
    assert [m.offset() for m in got] == [r[2] for r in acked]
    _, stats = b.admin(topic_path(topic_name, 0) + "/internalStats")
    assert stats["numberOfEntries"] >= 1


def test_bundle_unload_during_produce_loses_nothing(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    stop = threading.Event()
    unloads = []

    def unloader():
        while not stop.wait(0.3):
            unload(broker, topic_name)
            unloads.append(time.time())

    t = threading.Thread(target=unloader)
    t.start()
    try:
        p = producer(broker.bootstrap, linger_ms=2, enable_idempotence=True)
        sent = [(None, b"u%d" % i, {}) for i in range(2000)]
        for chunk in range(0, len(sent), 100):
            produce_all(p, topic_name, sent[chunk:chunk + 100], timeout=120)
            time.sleep(0.1)  # spread the writes over several unloads
    finally:
        stop.set()
        t.join()
    assert len(unloads) >= 5, f"only {len(unloads)} unloads happened while producing"
    got = [m.value() for m in consume(broker.bootstrap, topic_name, [0], 2000, timeout=120)]
    assert got == [b"u%d" % i for i in range(2000)], "records lost, duplicated or reordered across unloads"


def test_a_produce_right_after_an_unload_is_told_to_find_the_leader(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    assert raw_produce(broker, topic_name, [b"one"]) == NONE
    unload(broker, topic_name)
    codes = [raw_produce(broker, topic_name, [b"again"])]
    deadline = time.time() + 30
    while codes[-1] != NONE and time.time() < deadline:
        assert codes[-1] == NOT_LEADER_OR_FOLLOWER, codes
        time.sleep(0.2)
        codes.append(raw_produce(broker, topic_name, [b"again"]))
    assert codes[0] == NOT_LEADER_OR_FOLLOWER, f"an unloaded topic was written without a reload: {codes}"
    assert codes[-1] == NONE, codes


def test_bundle_unload_during_fetch_loses_nothing(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    produce_all(producer(broker.bootstrap, linger_ms=20), topic_name, [(None, b"f%d" % i, {}) for i in range(3000)])
    c = consumer(broker.bootstrap, fetch_max_bytes=4096, message_max_bytes=4096, max_partition_fetch_bytes=4096)
    seen = []
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        deadline = time.time() + 120
        unloads = 0
        while len(seen) < 3000 and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            seen.append(m.value())
            if len(seen) % 700 == 0:
                unload(broker, topic_name)
                unloads += 1
    finally:
        c.close()
    assert unloads >= 4
    assert seen == [b"f%d" % i for i in range(3000)]


def test_a_topic_max_message_size_policy_is_message_too_large(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    status, _ = broker.admin(topic_path(topic_name) + "/maxMessageSize", method="POST", body=2048)
    assert status in (200, 204)
    deadline = time.time() + 30
    code = NONE
    while time.time() < deadline:
        # Topic policies reach the broker through its system topic; wait until this one has.
        code = raw_produce(broker, topic_name, [b"x" * 4096])
        if code != NONE:
            break
        time.sleep(0.5)
    assert code == MESSAGE_TOO_LARGE
    # A client gets the error at once instead of retrying until it times out.
    p = producer(broker.bootstrap, message_timeout_ms=60000)
    started = time.time()
    with pytest.raises(AssertionError) as failed:
        produce_all(p, topic_name, [(None, b"y" * 4096, {})], timeout=60)
    assert "MSG_SIZE_TOO_LARGE" in str(failed.value)
    assert time.time() - started < 30
    assert raw_produce(broker, topic_name, [b"small"]) == NONE


def test_a_terminated_topic_refuses_writes_and_still_serves_reads(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"before", {})])
    status, _ = broker.admin(topic_path(topic_name, 0) + "/terminate", method="POST")
    assert status in (200, 204)
    codes = [raw_produce(broker, topic_name, [b"after"]) for _ in range(3)]
    assert codes[-1] == INVALID_TOPIC_EXCEPTION, codes
    assert all(c in (INVALID_TOPIC_EXCEPTION, NOT_LEADER_OR_FOLLOWER) for c in codes), codes
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 1)] == [b"before"]


def test_a_topic_deleted_through_pulsar_admin_is_unknown_to_kafka_clients(fresh_broker, topic_name):
    b = fresh_broker({"allowAutoTopicCreation": False})
    create_topic(b.bootstrap, topic_name)
    produce_all(producer(b.bootstrap), topic_name, [(None, b"doomed", {})])
    c = consumer(b.bootstrap)
    c.assign([TopicPartition(topic_name, 0, 0)])
    assert c.poll(10) is not None
    status, _ = b.admin(topic_path(topic_name) + "/partitions?force=true", method="DELETE")
    assert status in (200, 204)
    deadline = time.time() + 60
    code = raw_produce(b, topic_name, [b"late"])
    while code != UNKNOWN_TOPIC_OR_PARTITION and time.time() < deadline:
        assert code in (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION), code
        time.sleep(0.5)
        code = raw_produce(b, topic_name, [b"late"])
    c.close()
    assert code == UNKNOWN_TOPIC_OR_PARTITION
    with pytest.raises(urllib.error.HTTPError):
        b.admin(topic_path(topic_name) + "/partitions")  # not brought back as a stray topic
    _, listed = b.admin("/admin/v2/persistent/public/default")
    assert not [t for t in listed if topic_name in t], listed
    # The broker goes on serving other topics.
    create_topic(b.bootstrap, topic_name + "-other")
    assert raw_produce(b, topic_name + "-other", [b"fine"]) == NONE


def test_a_missing_index_interceptor_stops_the_broker_with_the_setting_named(fresh_broker):
    with pytest.raises(RuntimeError) as err:
        fresh_broker({"brokerEntryMetadataInterceptors": ""})
    assert "brokerEntryMetadataInterceptors" in str(err.value)
    assert "AppendIndexMetadataInterceptor" in str(err.value)

