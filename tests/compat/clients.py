"""Small helpers over the real clients, so tests read as what they check."""

import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions=1, config=None):
    a = admin(bootstrap)  # the client must outlive its futures
    futures = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10)
    futures[name].result(timeout=15)
    # Kafka answers CreateTopics before its partitions have leaders; every partition has one here.
    deadline = time.time() + 15
    while time.time() < deadline:
        topic = a.list_topics(name, timeout=10).topics.get(name)
        if topic and not topic.error and len(topic.partitions) == partitions and \
                all(p.leader >= 0 and not p.error for p in topic.partitions.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} has no leader for each of its {partitions} partitions")


def producer(bootstrap, **conf):
    base = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(base)


def produce_all(p, topic, messages, timeout=60):
    """Produces `(key, value, kwargs)` tuples; returns delivery reports in send order."""
    reports = [None] * len(messages)

    def on_delivery(i):
        def cb(err, msg):
            reports[i] = (err, msg.partition() if msg else None, msg.offset() if msg else None)
        return cb

    for i, (key, value, extra) in enumerate(messages):
        while True:
            try:
                p.produce(topic, key=key, value=value, on_delivery=on_delivery(i), **extra)
                break
            except BufferError:
                p.poll(0.1)
    remaining = p.flush(timeout)
    assert remaining == 0, f"{remaining} messages not delivered"
    errors = [r for r in reports if r is None or r[0] is not None]
    assert not errors, f"delivery failed: {errors[:5]}"
    return reports


def consumer(bootstrap, **conf):
    base = {"bootstrap.servers": bootstrap, "group.id": "kop-tests-unused", "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(base)


def consume(bootstrap, topic, partitions, count, timeout=60, **conf):
    """Reads `count` messages from the start of the given partitions with manual assignment."""
    c = consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in partitions])
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            out.append(msg)
        assert len(out) == count, f"consumed {len(out)} of {count} messages"
        # Nothing beyond what was produced.
        extra = c.poll(0.5)
        assert extra is None or extra.error() is not None, "consumed more than was produced"
        return out
    finally:
        c.close()
