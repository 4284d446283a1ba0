"""Topic and broker configs: DescribeConfigs, IncrementalAlterConfigs and AlterConfigs, through
confluent-kafka's and kafka-python's admin clients, and their effect on produce and retention."""

import time

import pytest
from confluent_kafka import (TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, KafkaError, KafkaException,
                             TopicPartition)
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType as KpResourceType

from brokers import HOST
from clients import admin, consume, consumer, create_topic, produce_all, producer


def describe(bootstrap, name, restype=ConfigResource.Type.TOPIC):
    a = admin(bootstrap)
    resource = ConfigResource(restype, name)
    return a.describe_configs([resource], request_timeout=15)[resource].result(timeout=15)


def incremental(bootstrap, name, entries, validate_only=False):
    a = admin(bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    return a.incremental_alter_configs([resource], validate_only=validate_only)[resource].result(timeout=15)


def op(name, value, kind=AlterConfigOpType.SET):
    return ConfigEntry(name, value, incremental_operation=kind)


def error_code(excinfo):
    return excinfo.value.args[0].code()


def test_describe_shows_topic_values_over_defaults(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2, config={"retention.ms": "3600000"})
    configs = describe(broker.bootstrap, topic_name)
    retention = configs["retention.ms"]
    assert retention.value == "3600000"
    assert retention.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    names = [s.name for s in retention.synonyms.values()]
    # Kafka lists the broker-wide synonyms that are set or have a default; kop lists log.retention.ms.
    assert names[0] == "retention.ms"
    assert set(names[1:]) <= {"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value
    # kop's default is Pulsar's largest message (5 MiB); Kafka's is 1 MiB and 12 bytes.
    assert configs["max.message.bytes"].value == ("1048588" if HOST == "kafka" else str(5 * 1024 * 1024))
    assert not configs["retention.ms"].is_read_only


def test_incremental_alter_sets_appends_and_deletes(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, config={"retention.ms": "3600000"})
    incremental(broker.bootstrap, topic_name, [
        op("retention.bytes", "1048576"),
        op("cleanup.policy", "compact", AlterConfigOpType.APPEND),
        op("retention.ms", None, AlterConfigOpType.DELETE),
    ])
    configs = describe(broker.bootstrap, topic_name)
    assert configs["retention.bytes"].value == "1048576"
    assert configs["cleanup.policy"].value == "delete,compact"
    assert configs["retention.ms"].value == str(7 * 24 * 3600 * 1000)
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value

    incremental(broker.bootstrap, topic_name, [op("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT)])
    assert describe(broker.bootstrap, topic_name)["cleanup.policy"].value == "compact"

    incremental(broker.bootstrap, topic_name, [op("retention.bytes", "1")], validate_only=True)
    assert describe(broker.bootstrap, topic_name)["retention.bytes"].value == "1048576"


@pytest.mark.parametrize("entries, code", [
    ([op("retention.ms", "soon")], KafkaError.INVALID_CONFIG),
    ([op("no.such.config", "1")], KafkaError.INVALID_CONFIG),
    ([op("retention.ms", "5", AlterConfigOpType.APPEND)], KafkaError.INVALID_CONFIG),
    ([op("cleanup.policy", "sometimes")], KafkaError.INVALID_CONFIG),
])
def test_bad_alterations_change_nothing(broker, topic_name, entries, code):
    create_topic(broker.bootstrap, topic_name, config={"retention.ms": "3600000"})
    with pytest.raises(KafkaException) as err:
        incremental(broker.bootstrap, topic_name, [op("retention.bytes", "2048"), *entries])
    assert error_code(err) == code
    configs = describe(broker.bootstrap, topic_name)
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.bytes"].value == "-1"


def test_unknown_topics_and_other_brokers_are_refused(broker, topic_name):
    with pytest.raises(KafkaException) as err:
        describe(broker.bootstrap, topic_name + "-none")
    assert error_code(err) == KafkaError.UNKNOWN_TOPIC_OR_PART
    with pytest.raises(KafkaException) as err:
        incremental(broker.bootstrap, topic_name + "-none", [op("retention.ms", "1000")])
    assert error_code(err) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_broker_configs_are_described_and_read_only(broker):
    node = next(iter(admin(broker.bootstrap).list_topics(timeout=10).brokers))
    configs = describe(broker.bootstrap, str(node), ConfigResource.Type.BROKER)
    assert configs["broker.id"].value == str(node)
    assert configs["broker.id"].is_read_only
    assert configs["offsets.topic.num.partitions"].value == "50"
    assert configs["default.replication.factor"].value == "1"

    if HOST == "kafka":
        return  # Kafka's broker configs can be altered at run time; kop's come from its config file
    a = admin(broker.bootstrap)
    resource = ConfigResource(ConfigResource.Type.BROKER, str(node),
                              incremental_configs=[op("log.retention.ms", "1000")])
    with pytest.raises(KafkaException) as err:
        a.incremental_alter_configs([resource])[resource].result(timeout=15)
    assert error_code(err) == KafkaError.INVALID_REQUEST


def test_altered_max_message_bytes_applies_to_produce(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"x" * 4000, {})])
    incremental(broker.bootstrap, topic_name, [op("max.message.bytes", "2048")])
    p = producer(broker.bootstrap, compression_type="none", message_send_max_retries=0)
    reports = []
    p.produce(topic_name, value=b"y" * 4000, on_delivery=lambda err, msg: reports.append(err))
    p.flush(30)
    assert reports and reports[0] is not None and reports[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    produce_all(p, topic_name, [(None, b"small", {})])


def test_legacy_alter_replaces_every_topic_config(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, config={"retention.ms": "3600000", "retention.bytes": "4096"})
    a = admin(broker.bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"segment.bytes": "1048576"})
    a.alter_configs([resource])[resource].result(timeout=15)
    configs = describe(broker.bootstrap, topic_name)
    assert configs["segment.bytes"].value == "1048576"
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["retention.bytes"].value == "-1"


def test_kafka_python_describes_and_alters(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        kp.alter_configs([KpConfigResource(KpResourceType.TOPIC, topic_name, configs={"retention.ms": "60000"})])
        modified = kp.describe_configs([KpConfigResource(KpResourceType.TOPIC, topic_name)])["topic"][topic_name]
        assert {k: v["value"] for k, v in modified.items()} == {"retention.ms": "60000"}
        every = kp.describe_configs([KpConfigResource(KpResourceType.TOPIC, topic_name)], config_filter="all")
        assert every["topic"][topic_name]["cleanup.policy"]["value"] == "delete"
        assert every["topic"][topic_name]["cleanup.policy"]["config_source"] == "DEFAULT_CONFIG"
    finally:
        kp.close()


def test_altered_configs_survive_restart(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name)
    incremental(b.bootstrap, topic_name, [op("retention.ms", "120000")])
    b.restart()
    assert describe(b.bootstrap, topic_name)["retention.ms"].value == "120000"


def test_altered_retention_deletes_old_segments(fresh_broker, topic_name):
    if HOST != "standalone":
        pytest.skip("on Pulsar, retention is the namespace's retention policy")
    b = fresh_broker({"logRetentionCheckIntervalMs": 200})
    create_topic(b.bootstrap, topic_name, config={"segment.bytes": "4096"})
    p = producer(b.bootstrap)
    for _ in range(40):  # one batch each, so segments roll
        produce_all(p, topic_name, [(None, b"v" * 1000, {})])
    c = consumer(b.bootstrap)
    tp = TopicPartition(topic_name, 0)
    assert c.get_watermark_offsets(tp, timeout=10) == (0, 40)
    incremental(b.bootstrap, topic_name, [op("retention.bytes", "8192")])
    deadline = time.time() + 20
    while c.get_watermark_offsets(tp, timeout=10)[0] == 0 and time.time() < deadline:
        time.sleep(0.2)
    low, high = c.get_watermark_offsets(tp, timeout=10)
    c.close()
    assert high == 40 and 0 < low < 40


def test_compacted_topics_refuse_records_without_a_key(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"keyless is fine here", {})])
    incremental(broker.bootstrap, topic_name, [op("cleanup.policy", "compact", AlterConfigOpType.APPEND)])
    p = producer(broker.bootstrap, message_send_max_retries=0, linger_ms=0)
    reports = []
    p.produce(topic_name, value=b"no key", on_delivery=lambda err, msg: reports.append(err))
    p.flush(30)
    assert reports and reports[0] is not None and reports[0].code() == KafkaError.INVALID_RECORD, reports
    produce_all(p, topic_name, [(b"k", b"keyed", {}), (b"k", None, {})])
    got = [m.value() for m in consume(broker.bootstrap, topic_name, [0], 3)]
    assert got == [b"keyless is fine here", b"keyed", None]


def test_log_append_time_stamps_records_with_the_brokers_time(broker, topic_name):
    """`message.timestamp.type=LogAppendTime`: the broker stamps each batch as it appends it, and
    every record reads that time (the batch's CRC still checks: kafka-python verifies it); a
    topic altered to it keeps the producer's timestamps on what came before."""
    old = 1_000_000_000_000
    create_topic(broker.bootstrap, topic_name)
    p = producer(broker.bootstrap, linger_ms=50)
    produce_all(p, topic_name, [(None, b"before", {"timestamp": old})])
    incremental(broker.bootstrap, topic_name, [op("message.timestamp.type", "LogAppendTime")])
    assert describe(broker.bootstrap, topic_name)["message.timestamp.type"].value == "LogAppendTime"

    stamped = []
    sent_at = int(time.time() * 1000)
    for i in range(5):
        p.produce(topic_name, value=b"after%d" % i, timestamp=old + i,
                  on_delivery=lambda err, msg: stamped.append((err, msg.timestamp())))
    assert p.flush(30) == 0
    received_by = int(time.time() * 1000)
    assert all(err is None for err, _ in stamped), stamped
    # The produce answer carries the append time, which librdkafka reports.
    assert all(kind == TIMESTAMP_LOG_APPEND_TIME and sent_at - 1000 <= ts <= received_by + 1000
               for _, (kind, ts) in stamped), stamped

    got = consume(broker.bootstrap, topic_name, [0], 6)
    assert got[0].timestamp() == (TIMESTAMP_CREATE_TIME, old)
    for m in got[1:]:
        kind, ts = m.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME and sent_at - 1000 <= ts <= received_by + 1000, m.timestamp()

    kp = KafkaConsumer(bootstrap_servers=broker.bootstrap, check_crcs=True, consumer_timeout_ms=10000,
                       auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        kp.assign([KpTopicPartition(topic_name, 0)])
        records = []
        for r in kp:
            records.append(r)
            if len(records) == 6:
                break
        assert [r.value for r in records] == [b"before"] + [b"after%d" % i for i in range(5)]
        assert [r.timestamp_type for r in records] == [0] + [1] * 5
        assert [r.timestamp for r in records[1:]] == [ts for _, (_, ts) in stamped]
    finally:
        kp.close()

    with pytest.raises(KafkaException) as bad:
        incremental(broker.bootstrap, topic_name, [op("message.timestamp.type", "WhenItArrives")])
    assert error_code(bad) == KafkaError.INVALID_CONFIG
