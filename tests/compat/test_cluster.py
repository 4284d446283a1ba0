"""Two brokers of one real Pulsar cluster (ZooKeeper, one bookie): each serves the partitions it
owns, and both send clients to the owner of every partition and group, as Pulsar's topic lookup
says; when a bundle moves, clients follow it.

Owners are whatever Pulsar's load manager decides, read back through its lookup API, and moved
with its bundle unload API. Only the Pulsar host has a cluster; `kop serve` is one broker that owns
everything.
"""

import struct
import threading
import time
import uuid

import pytest
from confluent_kafka import KafkaError, TopicPartition

import clients
import wire
from brokers import HOST, pulsar_cluster
from conftest import GROUP_TEST_CONFIG

pytestmark = pytest.mark.skipif(HOST != "pulsar", reason="several brokers sharing storage exist only on Pulsar")

NOT_LEADER_OR_FOLLOWER = 6
NOT_COORDINATOR = 16
COORDINATOR_NOT_AVAILABLE = 15
METADATA_NAMESPACE = "public/__kafka"


def java_hash(text):
    h = 0
    for ch in text:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def lookup(cluster, full_name):
    """The member that Pulsar says owns `full_name` (`persistent://tenant/ns/topic`), after a lookup
    that assigns the bundle if nobody owns it yet."""
    path = full_name.replace("persistent://", "/lookup/v2/topic/persistent/")
    _, answer = cluster[0].admin(path)
    return next(m for m in cluster if m.pulsar_url == answer["brokerUrl"])


def partition_owners(cluster, topic, partitions):
    return [lookup(cluster, f"persistent://public/default/{topic}-partition-{p}") for p in range(partitions)]


def partition_name(topic, partition, namespace="public/default"):
    return f"persistent://{namespace}/{topic}-partition-{partition}"


def bundle_of(cluster, full_name):
    path = full_name.replace("persistent://", "/lookup/v2/topic/persistent/") + "/bundle"
    _, answer = cluster[0].admin(path)
    return answer if isinstance(answer, str) else answer["bundleRange"] if "bundleRange" in answer else answer


def move(cluster, topic, partition, to, namespace="public/default"):
    """Unloads the bundle of a partition with `to` as its next owner, and waits until it is.

    The destination is a hint Pulsar's leader keeps until the next assignment of that bundle; a
    lookup racing the unload can take the assignment first and place the bundle elsewhere, so an
    attempt that has not landed after a minute is unloaded again. (Not sooner: on a loaded
    machine a move can take tens of seconds, and unloading it again mid-way only sets it back.)"""
    full_name = partition_name(topic, partition, namespace)
    bundle = bundle_of(cluster, full_name)
    for _ in range(2):
        # Asked of the current owner: another broker would answer with a redirect to it.
        owner = lookup(cluster, full_name)
        if owner is to:
            return
        owner.admin(f"/admin/v2/namespaces/{namespace}/{bundle}/unload?destinationBroker={to.broker_id}",
                    method="PUT")
        deadline = time.time() + 60
        while time.time() < deadline:
            if lookup(cluster, full_name) is to:
                return
            time.sleep(0.5)
    raise AssertionError(f"{full_name} did not move to {to.broker_id}")


def spread_topic(cluster, partitions):
    """A new topic whose partitions live on both brokers (moving one bundle if Pulsar put them all
    on one), and the owner of each partition."""
    name = f"spread-{uuid.uuid4().hex[:8]}"
    clients.create_topic(cluster[0].bootstrap, name, partitions=partitions)
    owners = partition_owners(cluster, name, partitions)
    if len(set(map(id, owners))) == 1:
        other = next(m for m in cluster if m is not owners[0])
        move(cluster, name, 0, other)
        owners = partition_owners(cluster, name, partitions)
    assert len(set(map(id, owners))) == 2, "the partitions did not spread over both brokers"
    return name, owners


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    zookeeper, members = pulsar_cluster(tmp_path_factory.mktemp("cluster"), 2, GROUP_TEST_CONFIG)
    zookeeper.start()
    try:
        for m in members:
            m.start()
        yield members
    finally:
        for m in reversed(members):
            if m.alive():
                code = m.stop()
                assert code in m.clean_exit_codes, f"{m.name} did not shut down cleanly ({code}):\n{m.log()}"
        zookeeper.stop()


def settled_metadata(member, topic, deadline_s=15):
    """Metadata for `topic` once no partition answers LEADER_NOT_AVAILABLE: a client retries that
    error, and a broker answers it while a bundle that just moved is still loading."""
    deadline = time.time() + deadline_s
    while True:
        meta = clients.admin(member.bootstrap).list_topics(topic, timeout=15)
        errors = [p.error for p in meta.topics[topic].partitions.values() if p.error is not None]
        if not any(e.code() == KafkaError.LEADER_NOT_AVAILABLE for e in errors) or time.time() > deadline:
            return meta
        time.sleep(0.5)


def test_metadata_names_each_partitions_owner(cluster):
    topic, expected = spread_topic(cluster, 6)
    for asked in cluster:
        meta = settled_metadata(asked, topic)
        ports = {b.id: b.port for b in meta.brokers.values()}
        assert sorted(ports.values()) == sorted(m.port for m in cluster), f"brokers seen from {asked.port}: {ports}"
        partitions = meta.topics[topic].partitions
        assert sorted(partitions) == list(range(6))
        for p, owner in enumerate(expected):
            assert partitions[p].error is None, partitions[p].error
            assert ports[partitions[p].leader] == owner.port, f"partition {p} led from the wrong broker"


def test_clients_follow_leaders_across_brokers(cluster):
    topic, _ = spread_topic(cluster, 4)
    # The producer knows only the first broker; half the partitions live on the second.
    p = clients.producer(cluster[0].bootstrap)
    messages = [(f"k{i}".encode(), f"v{i}".encode(), {"partition": i % 4}) for i in range(400)]
    reports = clients.produce_all(p, topic, messages)
    assert {r[1] for r in reports} == {0, 1, 2, 3}

    got = clients.consume(cluster[1].bootstrap, topic, range(4), 400)
    by_partition = {}
    for msg in got:
        by_partition.setdefault(msg.partition(), []).append(int(msg.value()[1:]))
    for part, values in by_partition.items():
        assert values == [i for i in range(400) if i % 4 == part], f"partition {part} out of order or incomplete"


def test_a_broker_refuses_partitions_it_does_not_own(cluster):
    topic, owners = spread_topic(cluster, 2)
    for p, owner in enumerate(owners):
        stranger = next(m for m in cluster if m is not owner)
        with wire.connect(stranger.bootstrap) as s:
            s.sendall(wire.frame(0, 3, 7, wire.produce_v3(topic, p, wire.record_batch([b"x"]))))
            _, body = wire.read_response(s)
            [(_, _, error, _)] = wire.parse_produce_v3(body)
        assert error == NOT_LEADER_OR_FOLLOWER, f"partition {p} accepted by a broker that does not own it"
        with wire.connect(owner.bootstrap) as s:
            s.sendall(wire.frame(0, 3, 8, wire.produce_v3(topic, p, wire.record_batch([b"y"]))))
            _, body = wire.read_response(s)
            [(_, _, error, _)] = wire.parse_produce_v3(body)
            assert error == 0


def find_coordinator(bootstrap, group, patience_s=30):
    """FindCoordinator v0: (error, node id, port). COORDINATOR_NOT_AVAILABLE is asked again, as
    clients do: a broker's own lookup of a bundle that was just assigned can fail for a moment."""
    deadline = time.time() + patience_s
    while True:
        with wire.connect(bootstrap) as s:
            s.sendall(wire.frame(10, 0, 3, wire.string(group)))
            _, body = wire.read_response(s)
        error, node = struct.unpack(">hi", body[:6])
        if error != COORDINATOR_NOT_AVAILABLE or time.time() > deadline:
            break
        time.sleep(0.5)
    host_len = struct.unpack(">h", body[6:8])[0]
    port = struct.unpack(">i", body[8 + host_len:12 + host_len])[0]
    return error, node, port


def offset_fetch_error(bootstrap, group, topic):
    """OffsetFetch v2's top-level error code for one partition of `topic`."""
    body = wire.string(group) + struct.pack(">i", 1) + wire.string(topic) + struct.pack(">ii", 1, 0)
    with wire.connect(bootstrap) as s:
        s.sendall(wire.frame(9, 2, 4, body))
        _, resp = wire.read_response(s)
    return struct.unpack(">h", resp[-2:])[0]


def metadata_brokers(bootstrap):
    """The broker ports of a brokers-only Metadata v1 answer (no topics asked for)."""
    with wire.connect(bootstrap) as s:
        s.sendall(wire.frame(3, 1, 5, struct.pack(">i", 0)))
        _, body = wire.read_response(s)
    (count,), at, ports = struct.unpack(">i", body[:4]), 4, []
    for _ in range(count):
        at += 4  # node id
        (host_len,) = struct.unpack(">h", body[at:at + 2])
        at += 2 + host_len
        ports.append(struct.unpack(">i", body[at:at + 4])[0])
        (rack_len,) = struct.unpack(">h", body[at + 4:at + 6])
        at += 6 + max(rack_len, 0)
    return sorted(ports)


def test_every_metadata_answer_names_the_whole_cluster(cluster):
    # librdkafka takes any Metadata answer's broker list as the cluster and drops connections to
    # brokers missing from it, failing what was in flight there: even an answer about no topics
    # must name every broker.
    for asked in cluster:
        assert metadata_brokers(asked.bootstrap) == sorted(m.port for m in cluster), f"asked {asked.port}"


def test_groups_are_coordinated_by_their_offsets_partition_owner(cluster):
    group = f"g-{uuid.uuid4().hex[:8]}"
    offsets_partition = java_hash(group) % 50
    owner = lookup(cluster, f"persistent://public/__kafka/__consumer_offsets-partition-{offsets_partition}")
    answers = {m.port: find_coordinator(m.bootstrap, group) for m in cluster}
    for asked, (error, _, port) in answers.items():
        assert error == 0 and port == owner.port, f"broker {asked} named {port}, not the owner {owner.port}"
    assert len({node for _, node, _ in answers.values()}) == 1, f"brokers disagree on the node id: {answers}"
    stranger = next(m for m in cluster if m is not owner)
    assert offset_fetch_error(stranger.bootstrap, group, "any") == NOT_COORDINATOR
    assert offset_fetch_error(owner.bootstrap, group, "any") == 0

    # A real consumer group, started from the broker that is not its coordinator, commits and a
    # later member resumes from the commit.
    topic, _ = spread_topic(cluster, 2)
    clients.produce_all(clients.producer(cluster[0].bootstrap), topic,
                        [(None, f"m{i}".encode(), {"partition": i % 2}) for i in range(20)])
    c = clients.consumer(stranger.bootstrap, group_id=group)
    c.subscribe([topic])
    seen = 0
    deadline = time.time() + 60
    while seen < 20 and time.time() < deadline:
        msg = c.poll(1.0)
        if msg is not None and not msg.error():
            seen += 1
    assert seen == 20
    c.commit(asynchronous=False)
    c.close()
    again = clients.consumer(stranger.bootstrap, group_id=group)
    committed = again.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=15)
    again.close()
    assert [tp.offset for tp in committed] == [10, 10]


def test_topic_changes_through_one_broker_reach_the_other(cluster):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions
    topic, _ = spread_topic(cluster, 2)
    first, second = clients.admin(cluster[0].bootstrap), clients.admin(cluster[1].bootstrap)
    assert len(second.list_topics(timeout=15).topics[topic].partitions) == 2

    first.create_partitions([NewPartitions(topic, 4)])[topic].result(timeout=15)
    assert len(second.list_topics(timeout=15).topics[topic].partitions) == 4

    change = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET)])
    first.incremental_alter_configs([change])[change].result(timeout=15)
    described = ConfigResource(ConfigResource.Type.TOPIC, topic)
    assert second.describe_configs([described])[described].result(timeout=15)["retention.ms"].value == "60000"

    first.delete_topics([topic], operation_timeout=10)[topic].result(timeout=15)
    assert topic not in second.list_topics(timeout=15).topics


def test_a_producer_follows_a_partition_to_its_new_owner(cluster):
    topic = f"follow-{uuid.uuid4().hex[:8]}"
    clients.create_topic(cluster[0].bootstrap, topic, partitions=1)
    first = partition_owners(cluster, topic, 1)[0]
    second = next(m for m in cluster if m is not first)
    p = clients.producer(cluster[0].bootstrap, linger_ms=2, enable_idempotence=True)
    sent = [(None, b"r%d" % i, {"partition": 0}) for i in range(3000)]
    failures = []

    def mover_body():
        try:
            move(cluster, topic, 0, second)
        except Exception as e:  # reported below: a failed move must fail the test
            failures.append(e)

    mover = threading.Thread(target=mover_body)
    for chunk in range(0, len(sent), 100):
        if chunk == 1000:
            mover.start()  # the bundle moves while the producer keeps sending
        clients.produce_all(p, topic, sent[chunk:chunk + 100], timeout=120)
    mover.join()
    assert not failures, failures
    # The answer now names the new owner, and it holds everything, in order, once.
    meta = clients.admin(first.bootstrap).list_topics(topic, timeout=15)
    ports = {b.id: b.port for b in meta.brokers.values()}
    assert ports[meta.topics[topic].partitions[0].leader] == second.port
    got = clients.consume(first.bootstrap, topic, [0], 3000, timeout=120)
    assert [m.value() for m in got] == [b"r%d" % i for i in range(3000)]
    assert [m.offset() for m in got] == list(range(3000))


def test_a_transaction_over_both_brokers_commits_and_aborts_everywhere(cluster):
    """The transaction coordinator owns only some of a transaction's partitions and not the
    offsets partition of the group it commits for: its markers reach the other broker through
    WriteTxnMarkers, and read_committed readers and the group see exactly the committed part."""
    from confluent_kafka import Consumer

    from test_transactions import read_all, txn_producer

    topic, _ = spread_topic(cluster, 2)
    transactional_id = f"tx-{uuid.uuid4().hex[:8]}"
    state_partition = java_hash(transactional_id) % 50
    coordinator = lookup(cluster, partition_name("__transaction_state", state_partition, METADATA_NAMESPACE))
    other = next(m for m in cluster if m is not coordinator)
    # A group in another bundle of the metadata namespace than the coordinator's partition,
    # moved to the other broker.
    state_bundle = bundle_of(cluster, partition_name("__transaction_state", state_partition, METADATA_NAMESPACE))
    group = next(g for g in (f"g-{uuid.uuid4().hex[:8]}" for _ in range(100))
                 if bundle_of(cluster, partition_name("__consumer_offsets", java_hash(g) % 50, METADATA_NAMESPACE))
                 != state_bundle)
    move(cluster, "__consumer_offsets", java_hash(group) % 50, other, METADATA_NAMESPACE)
    assert lookup(cluster, partition_name("__transaction_state", state_partition, METADATA_NAMESPACE)) is coordinator
    members = Consumer({"bootstrap.servers": cluster[0].bootstrap, "group.id": group})
    metadata = members.consumer_group_metadata()

    p = txn_producer(cluster[0].bootstrap, transactional_id)
    for values, offset, commit in ((("c0", "c1"), 5, True), (("a0", "a1"), 9, False)):
        p.begin_transaction()
        for partition, value in enumerate(values):
            p.produce(topic, value=value.encode(), partition=partition)
        p.flush(30)  # an abort drops what is not sent yet
        p.send_offsets_to_transaction([TopicPartition(topic, 0, offset)], metadata, 30)
        if commit:
            p.commit_transaction(60)
        else:
            p.abort_transaction(60)
    members.close()

    assert sorted(read_all(cluster[0].bootstrap, topic, [0, 1], "read_committed")) == [b"c0", b"c1"]
    assert sorted(read_all(cluster[1].bootstrap, topic, [0, 1], "read_uncommitted")) == [b"a0", b"a1", b"c0", b"c1"]
    reader = clients.consumer(other.bootstrap, group_id=group)
    committed = reader.committed([TopicPartition(topic, 0)], timeout=15)
    reader.close()
    assert committed[0].offset == 5, "the committed transaction's offset, not the aborted one's"


def test_a_java_transaction_joins_a_partition_of_the_other_broker(cluster):
    """Transactions version 2 (the Java client's, since kop announces it): no AddPartitionsToTxn
    comes from the producer, so the broker that owns the partition has it join the transaction at
    its coordinator, here the other broker. Commits, the abort, the fencing of the first producer
    and the epoch that every end moves on all hold as on one broker."""
    import subprocess

    from test_drivers import command

    topic, owners = spread_topic(cluster, 2)
    transactional_id = f"tx-{uuid.uuid4().hex[:8]}"
    other = next(m for m in cluster if m is not owners[0])
    move(cluster, "__transaction_state", java_hash(transactional_id) % 50, other, METADATA_NAMESPACE)
    done = subprocess.run([*command("java"), "transact", cluster[0].bootstrap, topic, transactional_id],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    out = [line.split() for line in done.stdout.splitlines() if line and not line.startswith("SLF4J")]
    assert ["fenced"] in out
    assert [w[1] for w in out if w[0] == "record"] == ["c0", "c1", "c2", "c3"]
    assert next(int(w[1]) for w in out if w[0] == "epoch") >= 4, "version 2: every end moved the epoch"
