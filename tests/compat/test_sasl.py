"""SASL/PLAIN on a SASL_PLAINTEXT listener: clients that authenticate are served, everyone else
gets a SASL error or a closed connection and never reaches a topic.

The standalone host checks `saslPlainUsers`; the Pulsar host checks the password `token:<jwt>`
with the broker's token authentication."""

import struct
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as ConfluentTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import wire
from brokers import host_class
from clients import consume, produce_all, producer

USER = "alice"
SECRET = "alice-s3cret"

SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA, API_VERSIONS = 17, 36, 3, 18
SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE = 58, 33, 34


@pytest.fixture
def sasl_broker(fresh_broker):
    config, password = host_class().sasl_user(USER, SECRET)
    b = fresh_broker(config, scheme="SASL_PLAINTEXT")
    b.password = password
    return b


def creds(b, password=None):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": USER,
            "sasl.password": b.password if password is None else password}


def handshake(s, mechanism, correlation_id=1):
    s.sendall(wire.frame(SASL_HANDSHAKE, 1, correlation_id, wire.string(mechanism)))
    cid, body = wire.read_response(s)
    assert cid == correlation_id
    error, count = struct.unpack(">hi", body[:6])
    mechanisms, rest = [], body[6:]
    for _ in range(count):
        (n,) = struct.unpack(">h", rest[:2])
        mechanisms.append(rest[2:2 + n].decode())
        rest = rest[2 + n:]
    return error, mechanisms


def authenticate(s, user, password, correlation_id=2):
    token = b"\0" + user.encode() + b"\0" + password.encode()
    s.sendall(wire.frame(SASL_AUTHENTICATE, 1, correlation_id, struct.pack(">i", len(token)) + token))
    cid, body = wire.read_response(s)
    assert cid == correlation_id
    (error,) = struct.unpack(">h", body[:2])
    (n,) = struct.unpack(">h", body[2:4])
    message = body[4:4 + n].decode() if n >= 0 else None
    return error, message


def metadata_v1(s, correlation_id):
    s.sendall(wire.frame(METADATA, 1, correlation_id, struct.pack(">i", -1)))
    return wire.read_response(s)


def test_confluent_kafka_with_credentials_produces_and_consumes(sasl_broker, topic_name):
    conf = creds(sasl_broker)
    a = AdminClient({"bootstrap.servers": sasl_broker.bootstrap, **conf})
    a.create_topics([NewTopic(topic_name, num_partitions=2)])[topic_name].result(timeout=15)
    messages = [(b"k%d" % (i % 7), b"v%d" % i, {}) for i in range(500)]
    produce_all(producer(sasl_broker.bootstrap, **{k.replace(".", "_"): v for k, v in conf.items()}),
                topic_name, messages)
    got = consume(sasl_broker.bootstrap, topic_name, [0, 1], len(messages),
                  **{k.replace(".", "_"): v for k, v in conf.items()})
    assert sorted(m.value() for m in got) == sorted(v for _, v, _ in messages)


def test_kafka_python_with_credentials(sasl_broker, topic_name):
    conf = dict(bootstrap_servers=sasl_broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN", sasl_plain_username=USER, sasl_plain_password=sasl_broker.password)
    p = KafkaProducer(acks="all", **conf)
    for i in range(20):
        p.send(topic_name, b"py%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer(consumer_timeout_ms=10000, **conf)
    c.assign([TopicPartition(topic_name, 0)])
    c.seek_to_beginning()
    values = [m.value for m in c]
    c.close()
    assert values == [b"py%d" % i for i in range(20)]


def test_wrong_password_is_refused(sasl_broker):
    errors = []
    a = AdminClient({"bootstrap.servers": sasl_broker.bootstrap, **creds(sasl_broker, "wrong"),
                     "error_cb": errors.append, "log_level": 0})
    with pytest.raises(KafkaException):
        a.list_topics(timeout=3)
    a.poll(1)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors

    with wire.connect(sasl_broker.bootstrap) as s:
        assert handshake(s, "PLAIN") == (0, ["PLAIN"])
        error, message = authenticate(s, USER, "wrong")
        assert error == SASL_AUTHENTICATION_FAILED
        assert message and "Authentication failed" in message
        assert wire.closed_by_peer(s), "the connection stays open after failed authentication"


def test_requests_before_authentication_close_the_connection(sasl_broker):
    with wire.connect(sasl_broker.bootstrap) as s:
        # ApiVersions comes first in every client's SASL exchange, so it is served.
        s.sendall(wire.frame(API_VERSIONS, 0, 7, b""))
        cid, body = wire.read_response(s)
        assert cid == 7 and struct.unpack(">h", body[:2])[0] == 0
        s.sendall(wire.frame(METADATA, 1, 8, struct.pack(">i", -1)))
        assert wire.closed_by_peer(s), "Metadata was served before authentication"

    with wire.connect(sasl_broker.bootstrap) as s:
        assert handshake(s, "PLAIN")[0] == 0
        s.sendall(wire.frame(METADATA, 1, 9, struct.pack(">i", -1)))
        assert wire.closed_by_peer(s), "Metadata was served between handshake and authentication"


def test_unsupported_mechanism_and_out_of_order_exchange(sasl_broker):
    with wire.connect(sasl_broker.bootstrap) as s:
        assert handshake(s, "SCRAM-SHA-256") == (UNSUPPORTED_SASL_MECHANISM, ["PLAIN"])
        # The client may try again with one we offer.
        assert handshake(s, "PLAIN", correlation_id=3) == (0, ["PLAIN"])
        assert authenticate(s, USER, sasl_broker.password, correlation_id=4)[0] == 0
        cid, body = metadata_v1(s, 5)
        assert cid == 5 and len(body) > 4
        # A second handshake after authenticating is out of order.
        assert handshake(s, "PLAIN", correlation_id=6)[0] == ILLEGAL_SASL_STATE

    with wire.connect(sasl_broker.bootstrap) as s:
        error, _ = authenticate(s, USER, sasl_broker.password)
        assert error == ILLEGAL_SASL_STATE
        assert wire.closed_by_peer(s), "SaslAuthenticate without a handshake left the connection open"


def test_malformed_plain_token_is_refused(sasl_broker):
    with wire.connect(sasl_broker.bootstrap) as s:
        assert handshake(s, "PLAIN")[0] == 0
        garbage = b"no-separators-here"
        s.sendall(wire.frame(SASL_AUTHENTICATE, 1, 2, struct.pack(">i", len(garbage)) + garbage))
        _, body = wire.read_response(s)
        assert struct.unpack(">h", body[:2])[0] == SASL_AUTHENTICATION_FAILED
        assert wire.closed_by_peer(s)


def test_plaintext_listener_needs_no_credentials(broker, topic_name):
    # The shared broker listens on PLAINTEXT: SASL is off and clients connect as before.
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"open", {})])
    assert [m.value() for m in consume(broker.bootstrap, topic_name, [0], 1)] == [b"open"]


def test_oauthbearer_tokens_authenticate(fresh_broker, topic_name):
    config, token = host_class().bearer_token("orders")
    b = fresh_broker({"saslAllowedMechanisms": "PLAIN,OAUTHBEARER", **config}, scheme="SASL_PLAINTEXT")

    def bearer(value):
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": lambda _config: (value, time.time() + 3600)}

    # The helpers spell settings with underscores; oauth_cb has one of its own, so build clients here.
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", **bearer(token)})
    produce_all(p, topic_name, [(b"k", b"by bearer", {})])
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "bearer", "auto.offset.reset": "earliest",
                  **bearer(token)})
    c.assign([ConfluentTopicPartition(topic_name, 0, 0)])
    msg = None
    for _ in range(100):
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            break
    c.close()
    assert msg is not None and msg.value() == b"by bearer"

    refused = AdminClient({"bootstrap.servers": b.bootstrap, **bearer(token + "x")})
    with pytest.raises(KafkaException) as err:
        refused.list_topics(timeout=5)
    assert err.value.args[0].code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT)

    with wire.connect(b.bootstrap) as s:
        assert handshake(s, "OAUTHBEARER") == (0, ["PLAIN", "OAUTHBEARER"])
        garbage = b"n,,\x01auth=Basic nope\x01\x01"
        s.sendall(wire.frame(SASL_AUTHENTICATE, 1, 2, struct.pack(">i", len(garbage)) + garbage))
        _, body = wire.read_response(s)
        assert struct.unpack(">h", body[:2])[0] == SASL_AUTHENTICATION_FAILED
        assert wire.closed_by_peer(s)
