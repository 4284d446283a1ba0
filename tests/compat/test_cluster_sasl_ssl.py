"""Two brokers of one real Pulsar cluster that take Kafka clients only over SASL_SSL, with Pulsar
tokens as passwords: a transaction whose coordinator and partitions sit on different brokers
still ends, because each broker reaches the other's listener as a client would (TLS, then a
login with the broker's own client token, whose role is one of `superUserRoles`).

Only the Pulsar host has a cluster; the standalone broker is one broker and never calls a peer.
"""

import subprocess
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import pulsar
from brokers import HOST, pulsar_cluster
from conftest import GROUP_TEST_CONFIG
from test_cluster import METADATA_NAMESPACE, java_hash, lookup, move, partition_name, partition_owners
from test_transactions import read_all

pytestmark = pytest.mark.skipif(HOST != "pulsar", reason="several brokers sharing storage exist only on Pulsar")


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    """The started cluster, and the client settings of a user of it (role `app`, no super user)."""
    workdir = tmp_path_factory.mktemp("sasl-ssl-cluster")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    # One certificate for both brokers, as `openssl req -x509` makes it (a CA certificate).
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    token_key = pulsar.new_token_key()
    config = {**GROUP_TEST_CONFIG, **pulsar.token_auth_config(token_key),
              "kopSslCertificateFile": str(cert), "kopSslKeyFile": str(key)}
    zookeeper, members = pulsar_cluster(workdir, 2, config, scheme="SASL_SSL")
    client = {"security.protocol": "SASL_SSL", "ssl.ca.location": str(cert), "sasl.mechanism": "PLAIN",
              "sasl.username": "app", "sasl.password": "token:" + pulsar.hs256_token(token_key, "app")}
    zookeeper.start()
    try:
        for m in members:
            m.start()
        yield members, client
    finally:
        for m in reversed(members):
            if m.alive():
                m.stop()
        zookeeper.stop()


def test_a_transaction_across_brokers_ends_over_sasl_ssl(secure):
    cluster, client = secure
    bootstrap = cluster[0].bootstrap
    topic = f"spread-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, **client})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(timeout=30)
    owners = partition_owners(cluster, topic, 2)
    if owners[0] is owners[1]:
        move(cluster, topic, 0, next(m for m in cluster if m is not owners[0]))
    # Whichever broker coordinates the transaction, one of its partitions is on the other one.
    transactional_id = f"tx-{uuid.uuid4().hex[:8]}"
    coordinator = lookup(cluster, partition_name("__transaction_state", java_hash(transactional_id) % 50,
                                                 METADATA_NAMESPACE))
    assert any(o is not coordinator for o in partition_owners(cluster, topic, 2))

    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5, **client})
    p.init_transactions(60)
    for values, commit in ((("c0", "c1"), True), (("a0", "a1"), False)):
        p.begin_transaction()
        for partition, value in enumerate(values):
            p.produce(topic, value=value.encode(), partition=partition)
        p.flush(30)
        if commit:
            p.commit_transaction(60)
        else:
            p.abort_transaction(60)
    assert sorted(read_all(bootstrap, topic, [0, 1], "read_committed", **client)) == [b"c0", b"c1"]
