"""Acknowledged data survives `kill -9` and restart."""

import pytest

from clients import consume, create_topic, produce_all, producer


def test_kill9_loses_nothing_acknowledged(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    create_topic(b.bootstrap, topic_name, partitions=3)
    messages = [(b"k%d" % (i % 31), b"m%d" % i, {}) for i in range(5000)]
    reports = produce_all(producer(b.bootstrap), topic_name, messages)
    b.kill9()
    b.start()
    got = consume(b.bootstrap, topic_name, [0, 1, 2], len(messages))
    stored = {(m.partition(), m.offset()): m.value() for m in got}
    for (_, value, _), (_, partition, offset) in zip(messages, reports):
        assert stored[(partition, offset)] == value

    # The log continues where it stopped.
    more = produce_all(producer(b.bootstrap), topic_name, [(None, b"after", {"partition": 0})])
    ends = sum(1 for _, p, _ in reports if p == 0)
    assert more[0][2] == ends


def test_clean_restart_keeps_data(fresh_broker, topic_name):
    b = fresh_broker({"logSegmentBytes": 4096})
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    values = [b"v%04d" % i * 10 for i in range(2000)]
    produce_all(producer(b.bootstrap, linger_ms=0, batch_num_messages=10), topic_name,
                [(None, v, {}) for v in values])
    b.restart()
    assert [m.value() for m in consume(b.bootstrap, topic_name, [0], len(values))] == values
