"""Transactions: a transactional producer commits and aborts, read_committed consumers see exactly
the committed records, offsets sent to a transaction commit with it, an older producer of the
same transactional id is fenced, a broker killed mid-transaction leaves it all or nothing, and an
idle transactional id is forgotten."""

import time
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from clients import consumer, create_topic
from kafka_tools import TOOLS, tool


def txn_producer(bootstrap, transactional_id, **conf):
    base = {"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5}
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    p = Producer(base)
    p.init_transactions(30)
    return p


def send(p, topic, values, partition=0):
    for v in values:
        p.produce(topic, value=v, partition=partition)
    p.flush(30)


def read_all(bootstrap, topic, partitions, isolation, settle=3.0, at_least=0, timeout=60, **conf):
    """Every record a consumer of `isolation` level (and client settings `conf`) gets from the start,
    until none come for `settle` s once it has `at_least` (a broker just restarted may serve nothing
    for a while: Kafka recovers its logs and elects leaders after it answers), or until `timeout`."""
    c = consumer(bootstrap, isolation_level=isolation, **conf)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in partitions])
        got, quiet_since, deadline = [], time.time(), time.time() + timeout
        while (time.time() - quiet_since < settle or len(got) < at_least) and time.time() < deadline:
            msg = c.poll(0.3)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            got.append(msg.value())
            quiet_since = time.time()
        return got
    finally:
        c.close()


def end_offset(bootstrap, topic, partition, isolation):
    c = consumer(bootstrap, isolation_level=isolation)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
    finally:
        c.close()


def test_committed_records_are_read_and_aborted_ones_are_not(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:8]}")
    p.begin_transaction()
    send(p, topic_name, [b"c1", b"c2"], partition=0)
    send(p, topic_name, [b"c3"], partition=1)
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, topic_name, [b"a1", b"a2"], partition=0)
    send(p, topic_name, [b"a3"], partition=1)
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, topic_name, [b"c4"], partition=0)
    p.commit_transaction(30)

    assert sorted(read_all(broker.bootstrap, topic_name, [0, 1], "read_committed")) == [b"c1", b"c2", b"c3", b"c4"]
    assert sorted(read_all(broker.bootstrap, topic_name, [0, 1], "read_uncommitted")) == \
        [b"a1", b"a2", b"a3", b"c1", b"c2", b"c3", b"c4"]


def test_an_open_transaction_holds_read_committed_readers_back(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    plain.produce(topic_name, value=b"before", partition=0)
    plain.flush(30)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:8]}")
    p.begin_transaction()
    send(p, topic_name, [b"open1", b"open2"])
    # The last stable offset stops at the open transaction; the high watermark does not.
    assert end_offset(broker.bootstrap, topic_name, 0, "read_committed") == 1
    assert end_offset(broker.bootstrap, topic_name, 0, "read_uncommitted") == 3
    assert read_all(broker.bootstrap, topic_name, [0], "read_committed", settle=2) == [b"before"]
    p.commit_transaction(30)
    assert read_all(broker.bootstrap, topic_name, [0], "read_committed") == [b"before", b"open1", b"open2"]


def test_consume_transform_produce_puts_each_input_once_into_the_output(broker, topic_name):
    source, sink, group = topic_name + "-in", topic_name + "-out", "ctp-" + topic_name
    create_topic(broker.bootstrap, source)
    create_topic(broker.bootstrap, sink)
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(30):
        plain.produce(source, value=str(i).encode(), partition=0)
    plain.flush(30)

    def run_once(limit, commit):
        """Reads up to `limit` inputs in a group, writes them upper-cased in a transaction and
        sends the offsets to it; commits or aborts."""
        c = consumer(broker.bootstrap, group_id=group, isolation_level="read_committed")
        c.subscribe([source])
        p = txn_producer(broker.bootstrap, "ctp-" + topic_name)
        p.begin_transaction()
        taken, deadline = 0, time.time() + 30
        while taken < limit and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            p.produce(sink, value=b"out-" + msg.value(), partition=0)
            taken += 1
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
        c.close()
        return taken

    assert run_once(10, commit=True) == 10
    assert run_once(10, commit=False) == 10, "an aborted batch: its offsets do not move"
    assert run_once(20, commit=True) == 20, "the aborted inputs are read again"
    out = read_all(broker.bootstrap, sink, [0], "read_committed")
    assert out == [b"out-%d" % i for i in range(30)], "each input exactly once, in order"

    c = consumer(broker.bootstrap, group_id=group)
    committed = c.committed([TopicPartition(source, 0)], timeout=10)
    c.close()
    assert committed[0].offset == 30


def test_a_second_producer_with_the_same_id_fences_the_first(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    tid = f"tx-{uuid.uuid4().hex[:8]}"
    first = txn_producer(broker.bootstrap, tid)
    first.begin_transaction()
    send(first, topic_name, [b"from-first"])
    second = txn_producer(broker.bootstrap, tid)  # aborts the first one's open transaction
    with pytest.raises(KafkaException) as err:
        first.commit_transaction(30)
    assert err.value.args[0].code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                        KafkaError.INVALID_PRODUCER_EPOCH), err.value
    second.begin_transaction()
    send(second, topic_name, [b"from-second"])
    second.commit_transaction(30)
    assert read_all(broker.bootstrap, topic_name, [0], "read_committed") == [b"from-second"]


def test_a_timeout_over_the_brokers_maximum_is_refused(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:8]}",
                  "transaction.timeout.ms": 3_600_000})
    with pytest.raises(KafkaException) as err:
        p.init_transactions(30)
    assert err.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT


def test_an_abandoned_transaction_times_out_and_aborts(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:8]}", transaction_timeout_ms=2000)
    p.begin_transaction()
    send(p, topic_name, [b"abandoned"])
    deadline = time.time() + 30
    while time.time() < deadline and end_offset(broker.bootstrap, topic_name, 0, "read_committed") < 2:
        time.sleep(0.5)
    # Aborted by the coordinator: the marker follows the record, and a reader sees neither.
    assert end_offset(broker.bootstrap, topic_name, 0, "read_committed") == 2
    assert read_all(broker.bootstrap, topic_name, [0], "read_committed", settle=1) == []


def test_a_broker_killed_mid_transaction_commits_all_or_nothing(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name, partitions=2)
    tid = f"tx-{uuid.uuid4().hex[:8]}"
    p = txn_producer(b.bootstrap, tid)
    p.begin_transaction()
    send(p, topic_name, [b"kept-0"], partition=0)
    send(p, topic_name, [b"kept-1"], partition=1)
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, topic_name, [b"lost-0"], partition=0)
    send(p, topic_name, [b"lost-1"], partition=1)
    b.kill9()
    b.start()
    # The restarted producer fences the old one; the open transaction is aborted.
    again = txn_producer(b.bootstrap, tid)
    again.begin_transaction()
    send(again, topic_name, [b"after"], partition=0)
    again.commit_transaction(30)
    assert sorted(read_all(b.bootstrap, topic_name, [0, 1], "read_committed")) == [b"after", b"kept-0", b"kept-1"]


def test_an_old_abort_stays_hidden_after_a_restart(fresh_broker, topic_name):
    """An aborted transaction far behind the log's end, past the tail a restart rereads, is still
    hidden from read_committed readers that start at the beginning."""
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name)
    p = txn_producer(b.bootstrap, f"tx-{uuid.uuid4().hex[:8]}")
    p.begin_transaction()
    send(p, topic_name, [b"aborted"])
    p.abort_transaction(30)
    plain = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20})
    for i in range(5000):
        plain.produce(topic_name, value=b"%d" % i, partition=0)
    plain.flush(30)
    # Kafka answers EndTxn once the abort is decided and writes the markers after; the kill must
    # come once the marker is in the partition (the last stable offset has passed it).
    deadline = time.time() + 30
    while end_offset(b.bootstrap, topic_name, 0, "read_committed") < 5002 and time.time() < deadline:
        time.sleep(0.2)
    b.kill9()
    b.start()
    got = read_all(b.bootstrap, topic_name, [0], "read_committed", settle=2, at_least=5000)
    assert b"aborted" not in got and len(got) == 5000


def test_a_transaction_open_far_behind_the_end_holds_readers_back_after_a_restart(fresh_broker, topic_name):
    """A transaction opened long before the log's end (more records after it than a restart rereads
    at the tail) is still known after kill -9, from the partition's producer-state snapshot:
    read_committed readers stay behind it until it ends, and its abort hides it."""
    b = fresh_broker({"kafkaTxnProducerStateTopicSnapshotIntervalSeconds": 1})
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name)
    tid = f"tx-{uuid.uuid4().hex[:8]}"
    p = txn_producer(b.bootstrap, tid, transaction_timeout_ms=600000)
    p.begin_transaction()
    send(p, topic_name, [b"open"])
    plain = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20})
    for i in range(5000):
        plain.produce(topic_name, value=b"%d" % i, partition=0)
    plain.flush(30)
    # A partition saves its snapshot as it is written, once the interval has passed.
    time.sleep(1.5)
    plain.produce(topic_name, value=b"last", partition=0)
    plain.flush(30)
    time.sleep(1.5)
    assert end_offset(b.bootstrap, topic_name, 0, "read_committed") == 0
    b.kill9()
    b.start()
    assert end_offset(b.bootstrap, topic_name, 0, "read_uncommitted") == 5002
    assert end_offset(b.bootstrap, topic_name, 0, "read_committed") == 0, "the open transaction holds readers back"
    # The restarted producer fences the old one, whose transaction is aborted.
    txn_producer(b.bootstrap, tid)
    got = read_all(b.bootstrap, topic_name, [0], "read_committed", settle=2, at_least=5001)
    assert b"open" not in got and len(got) == 5001


def test_offsets_sent_to_a_transaction_survive_a_broker_kill(fresh_broker, topic_name):
    """The offsets wait in the log, not in memory: after kill -9 and a restart, the same producer
    commits, and they count with its records."""
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    source, sink, group = topic_name + "-in", topic_name + "-out", "kill-" + topic_name
    create_topic(b.bootstrap, source)
    create_topic(b.bootstrap, sink)
    p = txn_producer(b.bootstrap, f"tx-{uuid.uuid4().hex[:8]}")
    member = consumer(b.bootstrap, group_id=group)
    p.begin_transaction()
    send(p, sink, [b"out"])
    p.send_offsets_to_transaction([TopicPartition(source, 0, 3)], member.consumer_group_metadata(), 30)
    member.close()
    b.kill9()
    b.start()
    p.commit_transaction(60)
    c = consumer(b.bootstrap, group_id=group)
    committed = c.committed([TopicPartition(source, 0)], timeout=10)
    c.close()
    assert committed[0].offset == 3
    assert read_all(b.bootstrap, sink, [0], "read_committed", settle=1) == [b"out"]


def test_an_idle_transactional_id_expires(fresh_broker, topic_name):
    b = fresh_broker({"kafkaTransactionalIdExpirationMs": 10000,
                      "kafkaTransactionsRemoveExpiredTransactionalIdCleanupIntervalMs": 1000})
    create_topic(b.bootstrap, topic_name)
    tid = f"tx-{uuid.uuid4().hex[:8]}"
    p = txn_producer(b.bootstrap, tid)
    p.begin_transaction()
    send(p, topic_name, [b"before"])
    p.commit_transaction(30)
    del p
    listed = lambda: tool(TOOLS + "TransactionsCommand", "--bootstrap-server", b.bootstrap, "list").split()
    assert tid in listed(), "kept while not idle for 10 s"
    deadline = time.time() + 40
    while tid in listed():
        assert time.time() < deadline, f"{tid} was never forgotten"
        time.sleep(1)
    described = tool(TOOLS + "TransactionsCommand", "--bootstrap-server", b.bootstrap, "describe",
                     "--transactional-id", tid, ok=False)
    assert "could not be found" in described, described
    # The id's next producer starts afresh and works.
    p = txn_producer(b.bootstrap, tid)
    p.begin_transaction()
    send(p, topic_name, [b"after"])
    p.commit_transaction(30)
    assert read_all(b.bootstrap, topic_name, [0], "read_committed", settle=1) == [b"before", b"after"]
