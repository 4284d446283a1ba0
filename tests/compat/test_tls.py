"""TLS listeners (SSL and SASL_SSL): clients that trust the broker's certificate are served, with
and without SASL/PLAIN; plaintext or untrusting clients are turned away without harming others."""

import socket
import struct
import subprocess

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from brokers import HOST, host_class
from clients import consume, produce_all, producer

USER, SECRET = "alice", "alice-s3cret"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def tls_config(certificate):
    cert, key = certificate
    return {"kopSslCertificateFile": str(cert), "kopSslKeyFile": str(key)}


def ssl_client(cert, protocol="SSL"):
    return {"security.protocol": protocol, "ssl.ca.location": str(cert)}


def test_ssl_listener_serves_trusting_clients(fresh_broker, certificate, topic_name):
    b = fresh_broker(tls_config(certificate), scheme="SSL")
    conf = ssl_client(certificate[0])
    create_topic_over(b.bootstrap, conf, topic_name, partitions=2)
    messages = [(f"k{i}".encode(), f"v{i}".encode() * 50, {"partition": i % 2}) for i in range(200)]
    produce_all(producer(b.bootstrap, **{k.replace(".", "_"): v for k, v in conf.items()}), topic_name, messages)
    got = consume(b.bootstrap, topic_name, [0, 1], 200, **{k.replace(".", "_"): v for k, v in conf.items()})
    assert sorted(m.value() for m in got) == sorted(v for _, v, _ in messages)

    kp = KafkaProducer(bootstrap_servers=b.bootstrap, security_protocol="SSL", ssl_cafile=str(certificate[0]))
    kp.send(topic_name, b"from kafka-python", partition=0).get(timeout=30)
    kp.close()
    kc = KafkaConsumer(bootstrap_servers=b.bootstrap, security_protocol="SSL", ssl_cafile=str(certificate[0]),
                       consumer_timeout_ms=10000)
    tp = TopicPartition(topic_name, 0)
    kc.assign([tp])
    kc.seek(tp, 100)
    assert next(iter(kc)).value == b"from kafka-python"
    kc.close()


def create_topic_over(bootstrap, conf, name, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap, **conf})
    a.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=15)


def test_untrusting_and_plaintext_clients_are_turned_away(fresh_broker, certificate, tmp_path, topic_name):
    b = fresh_broker(tls_config(certificate), scheme="SSL")
    # A client that does not trust this certificate fails its handshake.
    other_cert = tmp_path / "other.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(tmp_path / "other.key"), "-out", str(other_cert), "-days", "2", "-subj", "/CN=someone-else")
    untrusting = AdminClient({"bootstrap.servers": b.bootstrap, **ssl_client(other_cert)})
    with pytest.raises(KafkaException) as err:
        untrusting.list_topics(timeout=5)
    assert err.value.args[0].code() == KafkaError._TRANSPORT

    # A plaintext Kafka request gets the connection closed, not an answer and not a hang.
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 1, -1))
        try:
            answer = s.recv(64)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(struct.pack(">i", 1)), "a plaintext request was answered"

    # Meanwhile a trusting client is served.
    trusting = AdminClient({"bootstrap.servers": b.bootstrap, **ssl_client(certificate[0])})
    assert trusting.list_topics(timeout=10).brokers


def test_sasl_ssl_listener_authenticates_over_tls(fresh_broker, certificate, topic_name):
    users, password = host_class().sasl_user(USER, SECRET)
    b = fresh_broker({**tls_config(certificate), **users}, scheme="SASL_SSL")
    conf = {**ssl_client(certificate[0], "SASL_SSL"), "sasl.mechanism": "PLAIN", "sasl.username": USER,
            "sasl.password": password}
    create_topic_over(b.bootstrap, conf, topic_name, partitions=1)
    flat = {k.replace(".", "_"): v for k, v in conf.items()}
    produce_all(producer(b.bootstrap, **flat), topic_name, [(b"k", b"secret value", {})])
    assert [m.value() for m in consume(b.bootstrap, topic_name, [0], 1, **flat)] == [b"secret value"]

    wrong = AdminClient({"bootstrap.servers": b.bootstrap, **conf, "sasl.password": "wrong"})
    with pytest.raises(KafkaException) as err:
        wrong.list_topics(timeout=5)
    assert err.value.args[0].code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT)


def test_a_broker_with_an_unusable_key_does_not_start(fresh_broker, certificate, tmp_path):
    bad_key = tmp_path / "bad-key.pem"
    bad_key.write_text("not a key\n")
    with pytest.raises(RuntimeError) as err:
        fresh_broker({**tls_config(certificate), "kopSslKeyFile": str(bad_key)}, scheme="SSL")
    assert "bad-key.pem" in str(err.value)


def test_pulsar_brokers_tls_settings_are_the_default(fresh_broker, certificate, topic_name):
    if HOST != "pulsar":
        pytest.skip("tlsCertificateFilePath and tlsKeyFilePath are Pulsar broker settings")
    cert, key = certificate
    b = fresh_broker({"tlsCertificateFilePath": str(cert), "tlsKeyFilePath": str(key)}, scheme="SSL")
    assert AdminClient({"bootstrap.servers": b.bootstrap, **ssl_client(cert)}).list_topics(timeout=10).brokers


@pytest.fixture
def client_pki(tmp_path, certificate):
    """A CA, a client certificate it signed, and a client certificate nobody trusts."""
    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
            "-out", str(ca), "-days", "2", "-subj", "/CN=kop test CA")
    key, csr, cert = tmp_path / "client.key", tmp_path / "client.csr", tmp_path / "client.pem"
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
            "-out", str(csr), "-subj", "/CN=alice")
    extensions = tmp_path / "client.ext"
    extensions.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(extensions))
    rogue_key, rogue = tmp_path / "rogue.key", tmp_path / "rogue.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(rogue_key), "-out", str(rogue), "-days", "2", "-subj", "/CN=mallory")
    return {"ca": ca, "client": (cert, key), "rogue": (rogue, rogue_key)}


def test_mutual_tls_admits_only_clients_with_trusted_certificates(fresh_broker, certificate, client_pki, topic_name):
    b = fresh_broker({**tls_config(certificate), "kopSslClientAuth": "required",
                      "kopSslTrustedCaFile": str(client_pki["ca"])}, scheme="SSL")

    def client(pair):
        conf = ssl_client(certificate[0])
        if pair:
            conf.update({"ssl.certificate.location": str(pair[0]), "ssl.key.location": str(pair[1])})
        return AdminClient({"bootstrap.servers": b.bootstrap, **conf})

    assert client(client_pki["client"]).list_topics(timeout=10).brokers
    for refused in (None, client_pki["rogue"]):
        with pytest.raises(KafkaException) as err:
            client(refused).list_topics(timeout=5)
        assert err.value.args[0].code() in (KafkaError._TRANSPORT, KafkaError._SSL), refused

    kp = KafkaProducer(bootstrap_servers=b.bootstrap, security_protocol="SSL", ssl_cafile=str(certificate[0]),
                       ssl_certfile=str(client_pki["client"][0]), ssl_keyfile=str(client_pki["client"][1]))
    kp.send(topic_name, b"mutual").get(timeout=30)
    kp.close()


def test_client_auth_without_a_trusted_ca_does_not_start(fresh_broker, certificate):
    with pytest.raises(RuntimeError) as err:
        fresh_broker({**tls_config(certificate), "kopSslClientAuth": "required"}, scheme="SSL")
    assert "kopSslTrustedCaFile" in str(err.value)
