#!/usr/bin/env python3
"""Transactional produce beside plain idempotent produce, by default on kop standalone and on
Apache Kafka 4.4.0 (KRaft, one node, both on disk), with the same client (confluent-kafka,
librdkafka) in one run. Prints one Markdown row per broker and mode for docs/performance.md:
records/s, MB/s and the broker's CPU seconds (utime + stime) per GB. The hosts are bench/peers.py's
(`pulsar` and `kop-java` compare the two handlers in Pulsar). Each broker first takes one
unrecorded run of transactions of 1,000, so no row measures a JVM's warm-up.

    .venv/bin/python bench/txn-throughput.py [records] [record-bytes] [hosts]

Needs what scripts/setup installs (the .venv clients and Kafka's class path) and a release build
(`cargo build --release`).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "compat"))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from peers import host  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def create(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    time.sleep(1)


def run(bootstrap, pid, topic, records, size, per_txn):
    """Produces `records` records of `size` bytes; in transactions of `per_txn` (0: idempotent only)."""
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 1 << 20, "acks": "all",
            "enable.idempotence": True, "queue.buffering.max.kbytes": 1 << 20}
    if per_txn:
        conf["transactional.id"] = f"bench-{topic}"
    p = Producer(conf)
    if per_txn:
        p.init_transactions(60)
    value = b"x" * size
    cpu0, t0 = cpu_seconds(pid), time.time()
    sent = 0
    while sent < records:
        chunk = min(per_txn or records, records - sent)
        if per_txn:
            p.begin_transaction()
        for _ in range(chunk):
            while True:
                try:
                    p.produce(topic, value, partition=0)
                    break
                except BufferError:
                    p.poll(0.01)
        if per_txn:
            p.commit_transaction(120)
        else:
            assert p.flush(120) == 0
        sent += chunk
    elapsed, cpu = time.time() - t0, cpu_seconds(pid) - cpu0
    gb = records * size / 1e9
    return records / elapsed, records * size / elapsed / 1e6, cpu / gb


def main():
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    hosts = (sys.argv[3] if len(sys.argv) > 3 else "standalone,kafka").split(",")
    modes = [("idempotent", 0), ("transactions of 1,000", 1_000), ("transactions of 100,000", 100_000)]
    print(f"{records} records of {size} B per run, one partition, acks=all")
    print("| broker | mode | records/s | MB/s | broker CPU s/GB |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for name in hosts:
            broker = host(name, Path(work) / name).start()
            try:
                # Unrecorded: a JVM broker's first run is also its compiler's warm-up.
                create(broker.bootstrap, "bench-warm-up")
                run(broker.bootstrap, broker.proc.pid, "bench-warm-up", records, size, 1_000)
                for i, (mode, per_txn) in enumerate(modes):
                    topic = f"bench-{i}"
                    create(broker.bootstrap, topic)
                    rate, mbps, cpu = run(broker.bootstrap, broker.proc.pid, topic, records, size, per_txn)
                    print(f"| {broker.name} | {mode} | {rate:,.0f} | {mbps:.1f} | {cpu:.1f} |", flush=True)
            finally:
                broker.stop()


if __name__ == "__main__":
    main()
