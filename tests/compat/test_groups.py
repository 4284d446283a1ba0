"""Consumer groups with real clients: shared partitions, rebalances, committed offsets."""

import struct
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KpTopicPartition

import wire
from clients import create_topic, consumer, produce_all, producer


def group_consumer(bootstrap, group, **conf):
    base = dict(group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500, enable_auto_commit=False,
                auto_offset_reset="earliest")
    base.update(conf)
    return consumer(bootstrap, **base)


def assignment_of(c):
    return {tp.partition for tp in c.assignment()}


def poll_once(c, sink):
    """One poll; a message goes to `sink` (if given) and is committed before the next poll."""
    msg = c.poll(0.1)
    if msg is not None and not msg.error() and sink is not None:
        sink.append(msg.value())
        c.commit(message=msg, asynchronous=False)


def poll_all(consumers, seconds, sink):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for c in consumers:
            poll_once(c, sink)


def wait_for_assignments(consumers, partitions, timeout=30, sink=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for c in consumers:
            poll_once(c, sink)
        sets = [assignment_of(c) for c in consumers]
        if all(sets) and set().union(*sets) == set(partitions) and sum(map(len, sets)) == len(partitions):
            return sets
    raise AssertionError(f"assignments never settled: {[assignment_of(c) for c in consumers]}")


def test_three_consumers_share_partitions_and_take_over(broker, topic_name):
    group = topic_name + "-g"
    create_topic(broker.bootstrap, topic_name, partitions=6)
    first = [(None, b"a%d" % i, {"partition": i % 6}) for i in range(300)]
    produce_all(producer(broker.bootstrap), topic_name, first)
    members = [group_consumer(broker.bootstrap, group) for _ in range(3)]
    for c in members:
        c.subscribe([topic_name])
    values = []
    try:
        sets = wait_for_assignments(members, range(6), sink=values)
        assert all(a.isdisjoint(b) for i, a in enumerate(sets) for b in sets[i + 1:])
        poll_all(members, 4, values)
        leaving = members.pop()
        leaving.close()
        second = [(None, b"b%d" % i, {"partition": i % 6}) for i in range(300)]
        produce_all(producer(broker.bootstrap), topic_name, second)
        wait_for_assignments(members, range(6), sink=values)
        deadline = time.time() + 20
        while len(values) < 600 and time.time() < deadline:
            poll_all(members, 0.5, values)
        poll_all(members, 1, values)
        assert sorted(values) == sorted(v for _, v, _ in first + second), "every message exactly once"
    finally:
        for c in members:
            c.close()


def test_kafka_python_group_resumes_at_committed_offset(broker, topic_name):
    group = topic_name + "-kp"
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"%d" % i, {}) for i in range(20)])

    def consume_some(n):
        c = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", consumer_timeout_ms=10000)
        out = []
        for record in c:
            out.append(int(record.value))
            if len(out) == n:
                break
        c.commit()
        c.close()
        return out

    assert consume_some(7) == list(range(7))
    assert consume_some(5) == list(range(7, 12))
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        offsets = a.list_group_offsets({group: None})
        assert offsets[group][KpTopicPartition(topic_name, 0)].offset == 12
    finally:
        a.close()


def until_coordinated(call, timeout=30):
    """`call()`, again while the group's coordinator is still loading: a broker just started
    (Kafka answers NOT_COORDINATOR then) or one replaying its offsets log."""
    deadline = time.time() + timeout
    while True:
        try:
            return call()
        except KafkaException as e:
            waiting = e.args[0].code() in (KafkaError.NOT_COORDINATOR, KafkaError._WAIT_COORD,
                                           KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                           KafkaError.COORDINATOR_NOT_AVAILABLE)
            if not waiting or time.time() > deadline:
                raise
            time.sleep(0.5)


def test_committed_offsets_survive_kill9(fresh_broker, topic_name):
    b = fresh_broker()
    if not b.durable:
        pytest.skip("this host keeps data in memory")
    group = topic_name + "-g"
    produce_all(producer(b.bootstrap), topic_name, [(None, b"x", {})] * 50)
    c = group_consumer(b.bootstrap, group)
    until_coordinated(lambda: c.commit(offsets=[TopicPartition(topic_name, 0, 42)], asynchronous=False))
    c.close()
    b.kill9()
    b.start()
    c = group_consumer(b.bootstrap, group)
    try:
        (tp,) = until_coordinated(lambda: c.committed([TopicPartition(topic_name, 0)], timeout=10))
        assert tp.offset == 42
    finally:
        c.close()


def test_static_member_restart_causes_no_rebalance(broker, topic_name):
    group = topic_name + "-static"
    create_topic(broker.bootstrap, topic_name, partitions=4)
    revoked = []
    stayer = group_consumer(broker.bootstrap, group, group_instance_id="stayer")
    stayer.subscribe([topic_name], on_revoke=lambda c, parts: revoked.append(list(parts)))
    mover = group_consumer(broker.bootstrap, group, group_instance_id="mover")
    mover.subscribe([topic_name])
    try:
        sets = wait_for_assignments([stayer, mover], range(4))
        revoked.clear()
        mover.close()  # a static member leaves no LeaveGroup behind
        mover = group_consumer(broker.bootstrap, group, group_instance_id="mover")
        mover.subscribe([topic_name])
        deadline = time.time() + 20
        while time.time() < deadline and assignment_of(mover) != sets[1]:
            mover.poll(0.1)
            stayer.poll(0.1)
        assert assignment_of(mover) == sets[1], "the static member got its partitions back"
        for _ in range(20):
            stayer.poll(0.1)
        assert revoked == [], f"the other member was rebalanced: {revoked}"
        assert assignment_of(stayer) == sets[0]
    finally:
        stayer.close()
        mover.close()


def test_cooperative_sticky_assignment(broker, topic_name):
    group = topic_name + "-coop"
    create_topic(broker.bootstrap, topic_name, partitions=4)
    a = group_consumer(broker.bootstrap, group, partition_assignment_strategy="cooperative-sticky")
    a.subscribe([topic_name])
    try:
        wait_for_assignments([a], range(4))
        b = group_consumer(broker.bootstrap, group, partition_assignment_strategy="cooperative-sticky")
        b.subscribe([topic_name])
        try:
            sets = wait_for_assignments([a, b], range(4))
            assert len(sets[0]) == 2 and len(sets[1]) == 2
        finally:
            b.close()
        wait_for_assignments([a], range(4))
    finally:
        a.close()


def test_admin_lists_describes_and_deletes_groups(broker, topic_name):
    group = topic_name + "-admin"
    produce_all(producer(broker.bootstrap), topic_name, [(None, b"x", {})] * 5)
    c = group_consumer(broker.bootstrap, group, client_id="admin-test")
    c.subscribe([topic_name])
    wait_for_assignments([c], [0])
    c.commit(offsets=[TopicPartition(topic_name, 0, 3)], asynchronous=False)

    ca = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = ca.list_consumer_groups().result(timeout=15)
    assert group in {g.group_id for g in listed.valid}
    described = ca.describe_consumer_groups([group])[group].result(timeout=15)
    assert str(described.state).endswith("STABLE")
    assert [m.client_id for m in described.members] == ["admin-test"]
    assert {tp.partition for tp in described.members[0].assignment.topic_partitions} == {0}

    busy = ca.delete_consumer_groups([group])[group]
    with pytest.raises(KafkaException) as err:
        busy.result(timeout=15)
    assert "NON_EMPTY_GROUP" in str(err.value)
    c.close()

    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        groups = kp.list_groups()
        assert any(group in str(g) for g in groups)
        offsets = kp.list_group_offsets({group: None})[group]
        assert offsets[KpTopicPartition(topic_name, 0)].offset == 3
        kp.delete_group_offsets(group, [KpTopicPartition(topic_name, 0)])
        assert KpTopicPartition(topic_name, 0) not in kp.list_group_offsets({group: None})[group]
        kp.delete_groups([group])
    finally:
        kp.close()
    assert group not in {g.group_id for g in ca.list_consumer_groups().result(timeout=15).valid}


def join_v0(s, group, member_id=""):
    body = wire.string(group) + struct.pack(">i", 10000) + wire.string(member_id) + wire.string("consumer")
    body += struct.pack(">i", 1) + wire.string("range") + struct.pack(">i", 0)
    s.sendall(wire.frame(11, 0, 1, body))
    _, resp = wire.read_response(s)
    error, generation = struct.unpack(">hi", resp[:6])
    at = 6
    for _ in range(3):  # protocol, leader, member id
        (n,) = struct.unpack_from(">h", resp, at)
        value = resp[at + 2:at + 2 + n].decode()
        at += 2 + n
    return error, generation, value


def sync_v0(s, group, generation, member_id):
    body = wire.string(group) + struct.pack(">i", generation) + wire.string(member_id)
    body += struct.pack(">i", 1) + wire.string(member_id) + struct.pack(">i", 0)
    s.sendall(wire.frame(14, 0, 3, body))
    _, resp = wire.read_response(s)
    return struct.unpack(">h", resp[:2])[0]


def commit_v2(s, group, generation, member_id, topic, offset, metadata=""):
    body = wire.string(group) + struct.pack(">i", generation) + wire.string(member_id) + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + wire.string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iq", 0, offset) + wire.string(metadata)
    s.sendall(wire.frame(8, 2, 2, body))
    _, resp = wire.read_response(s)
    (n,) = struct.unpack_from(">h", resp, 4)
    _, error = struct.unpack_from(">ih", resp, 4 + 2 + n + 4)
    return error


def test_bad_commits_get_the_right_errors(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    group = topic_name + "-raw"
    s = wire.connect(broker.bootstrap)
    try:
        error, generation, member = join_v0(s, group)
        assert error == 0 and generation >= 1 and member
        assert commit_v2(s, group, generation, member, topic_name, 5) == 27  # REBALANCE_IN_PROGRESS
        assert sync_v0(s, group, generation, member) == 0
        assert commit_v2(s, group, generation + 1, member, topic_name, 5) == 22  # ILLEGAL_GENERATION
        assert commit_v2(s, group, generation, "nobody", topic_name, 5) == 25  # UNKNOWN_MEMBER_ID
        assert commit_v2(s, group, generation, member, topic_name, 5, "m" * 5000) == 12  # OFFSET_METADATA_TOO_LARGE
        assert commit_v2(s, group, generation, member, topic_name, 5, "ok") == 0
        assert commit_v2(s, group, generation, member, topic_name + "-nope", 5) == 3  # UNKNOWN_TOPIC_OR_PARTITION
    finally:
        s.close()
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        committed = kp.list_group_offsets({group: None})[group][KpTopicPartition(topic_name, 0)]
        assert (committed.offset, committed.metadata) == (5, "ok")
    finally:
        kp.close()
