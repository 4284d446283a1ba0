"""The broker killed with SIGKILL again and again under an idempotent acks=all producer and a
consumer that commits as it goes: every acknowledged record is read back exactly once and in
order, and no committed offset goes back."""

import threading
import time

import pytest
from confluent_kafka import KafkaException, TopicPartition

from brokers import HOST
from clients import consume, consumer, create_topic, producer

# A Pulsar broker stays down for its metadata session after a kill (see PulsarBroker.kill9).
KILLS = 3 if HOST == "pulsar" else 6
PARTITIONS = 2


def test_crash_loop_loses_nothing_and_repeats_nothing(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name, partitions=PARTITIONS)
    stop = threading.Event()
    acked, failed, committed = {}, [], []

    def produce():
        p = producer(b.bootstrap, enable_idempotence=True, linger_ms=5, message_timeout_ms=300_000)

        def on_delivery(err, msg):
            if err is None:
                acked[(msg.partition(), msg.offset())] = msg.value()
            else:
                failed.append(err)

        i = 0
        while not stop.is_set():
            try:
                p.produce(topic_name, key=b"k%d" % (i % 5), value=b"v%07d" % i, on_delivery=on_delivery)
                i += 1
            except BufferError:
                p.poll(0.1)
            p.poll(0)
            if i % 50 == 0:
                time.sleep(0.005)
        assert p.flush(300) == 0, "records left undelivered"

    def commit_as_we_go():
        c = consumer(b.bootstrap, group_id=f"{topic_name}-g", session_timeout_ms=30_000)
        c.subscribe([topic_name])
        try:
            while not stop.is_set():
                msg = c.poll(0.5)
                if msg is None or msg.error():
                    continue
                try:
                    done = c.commit(message=msg, asynchronous=False)
                except KafkaException:
                    continue  # the broker is down; the next message commits further
                committed.append({tp.partition: tp.offset for tp in done})
        finally:
            c.close()

    workers = [threading.Thread(target=produce), threading.Thread(target=commit_as_we_go)]
    for w in workers:
        w.start()
    try:
        for _ in range(KILLS):
            time.sleep(3)
            b.kill9()
            b.start()
        time.sleep(3)
    finally:
        stop.set()
        for w in workers:
            w.join(360)
    assert not failed, f"deliveries failed: {failed[:3]}"
    assert len(acked) > 1000, "the producer hardly ran"

    got = consume(b.bootstrap, topic_name, list(range(PARTITIONS)), len(acked), timeout=120)
    for m in got:
        assert acked.get((m.partition(), m.offset())) == m.value(), f"{m.partition()}@{m.offset()}"
    values = [m.value() for m in got]
    assert len(set(values)) == len(values), "a record was stored twice"
    for partition in range(PARTITIONS):
        mine = [m.value() for m in got if m.partition() == partition]
        assert mine == sorted(mine), f"partition {partition} out of order"

    # Committed offsets only ever move forward, and the group's last commit is still there.
    last = {}
    for commit in committed:
        for partition, offset in commit.items():
            assert offset >= last.get(partition, -1), f"commit on {partition} went back"
            last[partition] = offset
    assert committed, "the consumer never committed"
    c = consumer(b.bootstrap, group_id=f"{topic_name}-g")
    try:
        stored = c.committed([TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=30)
        for tp in stored:
            assert tp.offset >= last.get(tp.partition, -1001), f"stored commit on {tp.partition} went back"
    finally:
        c.close()
