"""Clients driven through a program of their own language with one set of commands and output
lines, so the same tests judge each: the Java Kafka client (org.apache.kafka:kafka-clients 4.x,
tests/compat/java) and franz-go (github.com/twmb/franz-go, tests/compat/go/franz), both built by
scripts/test. Each runs the idempotent producer with every codec and headers, group consumers
with the eager and the cooperative assignor, its admin client, and a transactional producer with a
read_committed consumer; and a Kafka Streams application with exactly_once_v2, killed mid-stream."""

import subprocess
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from brokers import HOST
from clients import consume, consumer, create_topic, produce_all, producer

HERE = Path(__file__).resolve().parent
JAR = HERE / "java" / "target" / "kop-test-java-client-0.1.0.jar"
CLASSPATH = HERE / "java" / "target" / "classpath.txt"
FRANZ = HERE / "go" / "target" / "franz"


def command(client):
    if client == "java":
        if not JAR.exists() or not CLASSPATH.exists():
            pytest.fail(f"{JAR} is missing: scripts/test builds it (mvn package in {JAR.parent.parent})")
        return ["java", "-cp", f"{JAR}:{CLASSPATH.read_text().strip()}", "kop.Driver"]
    if not FRANZ.exists():
        pytest.fail(f"{FRANZ} is missing: scripts/test builds it (go build in {FRANZ.parent.parent})")
    return [str(FRANZ)]


@pytest.fixture(params=["java", "franz"])
def driver(request):
    """Runs the client's driver; returns its output lines split into words."""
    prefix = command(request.param)

    def run(*args, timeout=120):
        done = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, \
            f"{request.param} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return [line.split() for line in done.stdout.splitlines() if line and not line.startswith("SLF4J")]

    return run


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_idempotent_producer_with_headers(broker, topic_name, codec, driver):
    create_topic(broker.bootstrap, topic_name, partitions=3)
    acked = [(int(p), int(o)) for word, p, o in driver("produce", broker.bootstrap, topic_name, 300, codec)
             if word == "acked"]
    assert len(acked) == 300
    for partition in range(3):
        offsets = sorted(o for p, o in acked if p == partition)
        assert offsets == list(range(len(offsets))), f"partition {partition}: offsets not dense"
    got = consume(broker.bootstrap, topic_name, [0, 1, 2], 300)
    seq = {m.value(): dict(m.headers())["seq"] for m in got}
    assert seq == {b"v%d" % i: b"%d" % i for i in range(300)}
    # The producer keys records, so each key's records share a partition and keep their order.
    for key in (b"k0", b"k1", b"k2"):
        mine = [m for m in got if m.key() == key]
        assert len({m.partition() for m in mine}) == 1
        assert [int(m.value()[1:]) for m in sorted(mine, key=lambda m: m.offset())] == sorted(
            int(m.value()[1:]) for m in mine)


@pytest.mark.parametrize("assignor", ["eager", "cooperative"])
def test_consumers_share_a_group(broker, topic_name, assignor, driver):
    create_topic(broker.bootstrap, topic_name, partitions=4)
    produce_all(producer(broker.bootstrap), topic_name,
                [(None, b"m%d" % i, {"partition": i % 4}) for i in range(400)])
    group = f"{topic_name}-{assignor}"
    outputs = [None, None]

    def member(i):
        outputs[i] = driver("consume", broker.bootstrap, topic_name, group, 400, assignor, 8000)

    members = [threading.Thread(target=member, args=(i,)) for i in range(2)]
    for m in members:
        m.start()
    for m in members:
        m.join(150)
    assert all(o is not None for o in outputs), "a member failed"
    seen = [words[4] for out in outputs for words in out if words[0] == "record"]
    assert sorted(set(seen)) == sorted("m%d" % i for i in range(400)), "every record reached the group"
    assert all(any(w[0] == "assigned" and int(w[1]) > 0 for w in out) for out in outputs), \
        "both members got partitions"
    # What the group committed covers everything.
    committed = {}
    for out in outputs:
        for words in out:
            if words[0] == "committed":
                committed[int(words[1])] = max(committed.get(int(words[1]), -1), int(words[2]))
    assert committed == {p: 100 for p in range(4)}, "the group's commits cover every record"
    again = driver("consume", broker.bootstrap, topic_name, group, 400, assignor, 3000)
    assert not [w for w in again if w[0] == "record"], "a member of the same group re-read committed records"


def test_admin(broker, topic_name, driver):
    out = {tuple(words[:2]): words[2:] for words in driver("admin", broker.bootstrap, topic_name)}
    assert out[("described", topic_name)] == ["2"]
    assert out[("grown", "3")] == []
    assert out[("config", "retention.ms")] == ["7200000"]
    assert out[("earliest", "4")] == [] and out[("latest", "10")] == []
    assert out[("group", "offset")] == ["7"]
    assert out[("group", "listed")] == ["true"]
    assert out[("group", "state")] == ["Empty"]
    assert ("group", "deleted") in out
    assert out[("deleted", "true")] == []


def test_transactions_commit_abort_and_fence(broker, topic_name, driver, request):
    create_topic(broker.bootstrap, topic_name)
    out = driver("transact", broker.bootstrap, topic_name, "tx-" + topic_name)
    assert ["fenced"] in out, "the second producer of the id fenced the first"
    assert [w[1] for w in out if w[0] == "record"] == ["c0", "c1", "c2", "c3"], \
        "read_committed gets exactly the committed records, in order"
    if request.node.callspec.params["driver"] == "java":
        # Transactions version 2 (KIP-890), which kop and Kafka 4 announce: each of the four ends
        # moves the epoch, and so does the second producer's InitProducerId (version 1: that alone;
        # a retried InitProducerId moves it once more under either).
        epoch = next(int(w[1]) for w in out if w[0] == "epoch")
        assert epoch < 4 if HOST == "kop-java" else epoch >= 4, out


def test_kafka_streams_exactly_once_counts_survive_a_kill(broker, topic_name, tmp_path):
    """A Kafka Streams word count (exactly_once_v2: a state store, its changelog and a repartition
    topic, all written in transactions), killed with -9 while input flows and started again: the
    counts it ends with are exact, none counted twice. (Run at_least_once, the same test fails:
    records processed after the last commit are counted again.)"""
    source, sink = topic_name + "-lines", topic_name + "-counts"
    create_topic(broker.bootstrap, source)
    create_topic(broker.bootstrap, sink)
    words = [f"w{i}" for i in range(10)]
    args = [*command("java"), "wordcount", broker.bootstrap, source, sink, "wc-" + topic_name, str(tmp_path)]
    log_path = tmp_path / "streams.log"
    log = open(log_path, "w")
    fed, stop = [0], threading.Event()

    def feed():
        """One line of every word each 20 ms, until told to stop."""
        p = producer(broker.bootstrap, linger_ms=0, enable_idempotence=True)
        while not stop.is_set():
            p.produce(source, value=" ".join(words).encode(), partition=0)
            fed[0] += 1
            p.poll(0)
            time.sleep(0.02)
        assert p.flush(30) == 0

    def counts(isolation, quiet=2.0):
        c = consumer(broker.bootstrap, isolation_level=isolation)
        try:
            c.assign([TopicPartition(sink, 0, 0)])
            latest, quiet_since, started = {}, time.time(), time.time()
            while time.time() - quiet_since < quiet and time.time() - started < 20:
                msg = c.poll(0.2)
                if msg is None or msg.error():
                    continue
                latest[msg.key().decode()] = int.from_bytes(msg.value(), "big", signed=True)
                quiet_since = time.time()
            return latest
        finally:
            c.close()

    running = [subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)]
    feeder = threading.Thread(target=feed)
    try:
        feeder.start()
        deadline = time.time() + 90
        while time.time() < deadline and not counts("read_uncommitted", quiet=0.3):
            time.sleep(0.2)
        time.sleep(1)
        running[0].kill()  # -9 while input flows: no commit, no clean shutdown
        running[0].wait()
        running.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(2)
        stop.set()
        feeder.join(60)
        c = consumer(broker.bootstrap)
        lines = c.get_watermark_offsets(TopicPartition(source, 0), timeout=10)[1]
        c.close()
        assert lines == fed[0], "each line fed is stored once"
        deadline = time.time() + 150
        final = {}
        while time.time() < deadline:
            final = counts("read_committed")
            if final and all(final.get(w, 0) >= lines for w in words):
                break
            time.sleep(1)
        assert final == {w: lines for w in words}, f"counts after a kill: {final}\n" + log_path.read_text()[-3000:]
    finally:
        stop.set()
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
