"""Apache Kafka's own command-line tools (org.apache.kafka:kafka-tools 4.4.0, resolved by
scripts/test into tests/kafka/target/classpath.txt), run as an operator runs them: the classes
behind kafka-topics.sh, kafka-console-producer.sh, kafka-console-consumer.sh,
kafka-consumer-groups.sh, kafka-configs.sh, kafka-delete-records.sh, kafka-get-offsets.sh,
kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh, kafka-broker-api-versions.sh and
kafka-transactions.sh."""

import re
import time

from confluent_kafka import Producer

from clients import admin, create_topic
from kafka_tools import GROUPS, TOOLS, tool


def rows(out, first):
    """The whitespace-split rows of a tool's table that start with `first`."""
    return [line.split() for line in out.splitlines() if line.split()[:1] == [first]]


def producer_rows(out):
    """The rows of kafka-transactions describe-producers: those that start with a producer id."""
    return [line.split() for line in out.splitlines() if re.match(r"\d+\s+\d+\s", line)]


def test_kafka_topics_create_describe_alter_delete(broker, topic_name):
    b = ("--bootstrap-server", broker.bootstrap)
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 2,
         "--config", "retention.ms=3600000")
    described = tool(TOOLS + "TopicCommand", *b, "--describe", "--topic", topic_name)
    assert re.search(rf"Topic: {topic_name}\s+TopicId: \S+\s+PartitionCount: 2\s", described), described
    assert "retention.ms=3600000" in described
    assert len(re.findall(r"Partition: \d+\s+Leader: \d+", described)) == 2
    tool(TOOLS + "TopicCommand", *b, "--alter", "--topic", topic_name, "--partitions", 4)
    assert "PartitionCount: 4" in tool(TOOLS + "TopicCommand", *b, "--describe", "--topic", topic_name)
    assert topic_name in tool(TOOLS + "TopicCommand", *b, "--list").split()
    refused = tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 1, ok=False)
    assert "already exists" in refused
    tool(TOOLS + "TopicCommand", *b, "--delete", "--topic", topic_name)
    assert topic_name not in tool(TOOLS + "TopicCommand", *b, "--list").split()


def test_console_producer_and_consumer_round_trip_keys(broker, topic_name):
    b = ("--bootstrap-server", broker.bootstrap)
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 1)
    lines = [f"key{i % 3}:value {i}" for i in range(30)]
    tool(TOOLS + "ConsoleProducer", *b, "--topic", topic_name, "--property", "parse.key=true",
         "--property", "key.separator=:", stdin="\n".join(lines) + "\n")
    out = tool(TOOLS + "consumer.ConsoleConsumer", *b, "--topic", topic_name, "--from-beginning",
               "--max-messages", 30, "--timeout-ms", 30000, "--property", "print.key=true",
               "--property", "key.separator=:")
    assert [line for line in out.splitlines() if line.startswith("key")] == lines
    assert "Processed a total of 30 messages" in out


def test_kafka_consumer_groups_lag_reset_and_delete(broker, topic_name):
    b = ("--bootstrap-server", broker.bootstrap)
    group = f"{topic_name}-group"
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 1)
    tool(TOOLS + "ConsoleProducer", *b, "--topic", topic_name, stdin="".join(f"m{i}\n" for i in range(20)))
    # The console consumer commits what it returned when it closes: 15 of 20.
    tool(TOOLS + "consumer.ConsoleConsumer", *b, "--topic", topic_name, "--group", group, "--from-beginning",
         "--max-messages", 15, "--timeout-ms", 30000)
    assert group in tool(GROUPS, *b, "--list").split()
    described = rows(tool(GROUPS, *b, "--describe", "--group", group), group)
    assert [r[1:6] for r in described] == [[topic_name, "0", "15", "20", "5"]], described
    state = rows(tool(GROUPS, *b, "--describe", "--group", group, "--state"), group)
    assert state and "Empty" in state[0], state

    planned = rows(tool(GROUPS, *b, "--reset-offsets", "--group", group, "--topic", topic_name, "--to-earliest",
                        "--dry-run"), group)
    assert [r[1:4] for r in planned] == [[topic_name, "0", "0"]]
    assert rows(tool(GROUPS, *b, "--describe", "--group", group), group)[0][3] == "15", "a dry run changed nothing"
    tool(GROUPS, *b, "--reset-offsets", "--group", group, "--topic", topic_name, "--to-offset", 7, "--execute")
    assert rows(tool(GROUPS, *b, "--describe", "--group", group), group)[0][3:6] == ["7", "20", "13"]
    tool(GROUPS, *b, "--reset-offsets", "--group", group, "--topic", topic_name, "--shift-by", 5, "--execute")
    assert rows(tool(GROUPS, *b, "--describe", "--group", group), group)[0][3] == "12"

    deleted = tool(GROUPS, *b, "--delete-offsets", "--group", group, "--topic", topic_name)
    assert rows(deleted, topic_name) == [[topic_name, "0", "Successful"]]
    assert "was successful" in tool(GROUPS, *b, "--delete", "--group", group)
    assert group not in tool(GROUPS, *b, "--list").split()


def test_kafka_configs_alter_describe_delete(broker, topic_name):
    b = ("--bootstrap-server", broker.bootstrap)
    config = (TOOLS + "ConfigCommand", *b, "--entity-type", "topics", "--entity-name", topic_name)
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 1)
    tool(*config, "--alter", "--add-config", "retention.ms=7200000,max.message.bytes=2000000")
    described = tool(*config, "--describe")
    assert "retention.ms=7200000 " in described and "max.message.bytes=2000000 " in described, described
    tool(*config, "--alter", "--delete-config", "max.message.bytes")
    described = tool(*config, "--describe")
    assert "max.message.bytes" not in described and "retention.ms=7200000 " in described, described
    refused = tool(*config, "--alter", "--add-config", "retention.ms=soon", ok=False)
    assert "retention.ms" in refused and "Completed" not in refused, refused
    (node,) = admin(broker.bootstrap).list_topics(timeout=30).brokers  # kop on Pulsar numbers its brokers
    broker_configs = tool(TOOLS + "ConfigCommand", *b, "--entity-type", "brokers", "--entity-name", node, "--describe",
                          "--all")
    # kop states log.retention.ms; Kafka leaves it unset and states log.retention.hours.
    assert re.search(r"^\s+log\.retention\.(ms|hours)=\d+ ", broker_configs, re.M), broker_configs


def test_kafka_delete_records_and_get_offsets(broker, topic_name, tmp_path):
    b = ("--bootstrap-server", broker.bootstrap)
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 2)
    tool(TOOLS + "ConsoleProducer", *b, "--topic", topic_name, "--property", "parse.key=true",
         stdin="".join(f"k\tm{i}\n" for i in range(10)))
    latest = tool(TOOLS + "GetOffsetShell", *b, "--topic", topic_name, "--time", -1).split()
    (partition,) = [p for p in (0, 1) if f"{topic_name}:{p}:10" in latest]  # one key: one partition
    plan = tmp_path / "delete.json"
    plan.write_text(f'{{"partitions":[{{"topic":"{topic_name}","partition":{partition},"offset":4}}],"version":1}}')
    out = tool(TOOLS + "DeleteRecordsCommand", *b, "--offset-json-file", plan)
    assert re.search(rf"partition: {topic_name}-{partition}\s+low_watermark: 4", out), out
    earliest = tool(TOOLS + "GetOffsetShell", *b, "--topic", topic_name, "--time", -2).split()
    assert sorted(earliest) == sorted([f"{topic_name}:{partition}:4", f"{topic_name}:{1 - partition}:0"])


def test_kafka_perf_tools(broker, topic_name):
    b = ("--bootstrap-server", broker.bootstrap)
    tool(TOOLS + "TopicCommand", *b, "--create", "--topic", topic_name, "--partitions", 3)
    produced = tool(TOOLS + "ProducerPerformance", "--topic", topic_name, "--num-records", 20000,
                    "--record-size", 100, "--throughput", -1, "--command-property",
                    f"bootstrap.servers={broker.bootstrap}", "acks=all")
    assert re.search(r"^20000 records sent, ", produced, re.M), produced
    consumed = tool(TOOLS + "ConsumerPerformance", *b, "--topic", topic_name, "--messages", 20000,
                    "--timeout", 60000)
    (figures,) = [line.split(", ") for line in consumed.splitlines() if line.startswith("20")][-1:]
    assert figures[4] == "20000", consumed


def test_kafka_broker_api_versions(broker):
    out = tool(TOOLS + "BrokerApiVersionsCommand", "--bootstrap-server", broker.bootstrap)
    for api in ("Produce(0)", "Fetch(1)", "Metadata(3)", "JoinGroup(11)", "CreateTopics(19)", "DeleteRecords(21)"):
        assert re.search(re.escape(api) + r": \d+ to \d+ \[usable: \d+\]", out), f"{api} not served:\n{out}"


def test_kafka_transactions_lists_and_describes(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    tid = "tool-" + topic_name
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": tid})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"in a transaction")
    p.flush(30)
    listed = tool(TOOLS + "TransactionsCommand", "--bootstrap-server", broker.bootstrap, "list")
    assert re.search(rf"^{re.escape(tid)}\s+\d+\s+\d+\s+Ongoing", listed, re.M), listed
    # The columns: ProducerId ProducerEpoch LatestCoordinatorEpoch LastSequence LastTimestamp
    # CurrentTransactionStartOffset.
    producers = ("--bootstrap-server", broker.bootstrap, "describe-producers", "--topic", topic_name, "--partition", 0)
    open_txn = producer_rows(tool(TOOLS + "TransactionsCommand", *producers))
    assert len(open_txn) == 1 and open_txn[0][3] == "0" and open_txn[0][5] == "0", open_txn
    p.commit_transaction(30)
    closed = producer_rows(tool(TOOLS + "TransactionsCommand", *producers))
    assert [r[0] for r in closed] == [open_txn[0][0]] and closed[0][5] in ("None", "-1"), closed
    described = tool(TOOLS + "TransactionsCommand", "--bootstrap-server", broker.bootstrap, "describe",
                     "--transactional-id", tid)
    assert re.search(rf"\b{re.escape(tid)}\b.*\bCompleteCommit\b", described), described


def test_idle_producer_ids_are_forgotten(fresh_broker, topic_name):
    """`kafkaProducerIdExpirationMs` (Kafka's `producer.id.expiration.ms`): a producer that has
    written nothing for that long is no longer in the partition's state (though its client is still
    open), one that just wrote is."""
    broker = fresh_broker({"kafkaProducerIdExpirationMs": 2000})
    create_topic(broker.bootstrap, topic_name, partitions=1)
    producers = ("--bootstrap-server", broker.bootstrap, "describe-producers", "--topic", topic_name, "--partition", 0)

    def produce_once():
        p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
        p.produce(topic_name, value=b"x")
        assert p.flush(30) == 0
        return p

    first = produce_once()
    (old,) = [r[0] for r in producer_rows(tool(TOOLS + "TransactionsCommand", *producers))]
    time.sleep(3)
    second = produce_once()
    left = [r[0] for r in producer_rows(tool(TOOLS + "TransactionsCommand", *producers))]
    assert old not in left and len(left) == 1, (old, left)
    del first, second
