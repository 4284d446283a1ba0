"""Idempotent producers: retries are stored once, gaps are refused."""

from kafka import KafkaProducer

import wire
from clients import consume, create_topic, produce_all, producer


def test_confluent_idempotent_producer(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    p = producer(broker.bootstrap, enable_idempotence=True, max_in_flight_requests_per_connection=5)
    reports = produce_all(p, topic_name, [(b"k%d" % (i % 7), b"%d" % i, {}) for i in range(3000)])
    got = consume(broker.bootstrap, topic_name, [0, 1], 3000)
    assert sorted(int(m.value()) for m in got) == list(range(3000))
    assert {(m.partition(), m.offset()) for m in got} == {(p, o) for _, p, o in reports}


def test_kafka_python_default_producer_is_idempotent(broker, topic_name):
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for i in range(100):
        p.send(topic_name, value=b"%d" % i)
    p.flush(30)
    p.close()
    assert [int(m.value()) for m in consume(broker.bootstrap, topic_name, [0], 100)] == list(range(100))


def test_retried_batch_is_stored_once_and_gaps_are_refused(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    s = wire.connect(broker.bootstrap)
    s.sendall(wire.frame(22, 0, 1, wire.init_producer_id_v0()))
    error, pid, epoch = wire.parse_init_producer_id_v0(wire.read_response(s)[1])
    assert error == 0 and pid >= 0 and epoch == 0

    def send(seq, values, correlation_id):
        batch = wire.record_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)
        s.sendall(wire.frame(0, 3, correlation_id, wire.produce_v3(topic_name, 0, batch)))
        cid, body = wire.read_response(s)
        assert cid == correlation_id
        [(_, _, error, offset)] = wire.parse_produce_v3(body)
        return error, offset

    assert send(0, [b"a", b"b"], 2) == (0, 0)
    assert send(0, [b"a", b"b"], 3) == (0, 0)  # a retry: same answer, not stored again
    assert send(2, [b"c"], 4) == (0, 2)
    assert send(5, [b"gap"], 5)[0] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
    s.close()
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 3)] == [b"a", b"b", b"c"]
