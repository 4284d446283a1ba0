"""Hostile load stays bounded: idle and stalled connections are cut off, connections past the
limit are refused at once while existing clients keep working, and request bytes held across all
connections are capped, so the broker's memory stays put while it is attacked."""

import socket
import struct
import time

import pytest

import wire
from brokers import HOST
from clients import consume, create_topic, produce_all, producer


def api_versions(s, correlation_id=7):
    s.sendall(wire.frame(18, 0, correlation_id, b""))
    cid, body = wire.read_response(s)
    return cid == correlation_id and struct.unpack(">h", body[:2])[0] == 0


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_an_idle_connection_is_closed(fresh_broker):
    b = fresh_broker({"connectionMaxIdleMs": 1000})
    with wire.connect(b.bootstrap) as s:
        assert api_versions(s)
        started = time.time()
        assert wire.closed_by_peer(s, timeout=15)
        assert time.time() - started < 10


def test_a_client_that_stalls_mid_request_is_cut_off(fresh_broker):
    b = fresh_broker({"kopRequestReadTimeoutMs": 1000})
    with wire.connect(b.bootstrap) as s:
        s.sendall(struct.pack(">i", 100) + b"\x00\x12\x00\x00")  # 8 of 100 bytes, then nothing
        started = time.time()
        assert wire.closed_by_peer(s, timeout=15)
        assert time.time() - started < 10
    with wire.connect(b.bootstrap) as s:
        assert api_versions(s)


def test_connections_past_the_limit_are_refused_at_once(fresh_broker, topic_name):
    if HOST == "kafka":
        pytest.skip("Kafka stops accepting past max.connections (clients wait); kop, like KoP, refuses at once")
    b = fresh_broker({"maxConnections": 3})
    held = []
    deadline = time.time() + 15
    try:
        # The start-up probe's connection may hold its slot a moment after it closed.
        while len(held) < 3:
            s = wire.connect(b.bootstrap)
            try:
                served = api_versions(s)
            except ConnectionError:
                served = False
            if served:
                held.append(s)
            else:
                s.close()
                assert time.time() < deadline, "fewer than maxConnections clients were let in"
                time.sleep(0.2)
        with wire.connect(b.bootstrap) as extra:
            started = time.time()
            assert wire.closed_by_peer(extra, timeout=10)
            assert time.time() - started < 5
        # The clients already in are still served.
        for i, s in enumerate(held):
            assert api_versions(s, correlation_id=100 + i)
    finally:
        for s in held:
            s.close()
    # Once they leave, new clients get in again (the slots are freed as connections close).
    deadline = time.time() + 10
    while True:
        try:
            produce_all(producer(b.bootstrap), topic_name, [(None, b"in", {})], timeout=20)
            break
        except AssertionError:
            if time.time() > deadline:
                raise
    assert [m.value() for m in consume(b.bootstrap, topic_name, [0], 1)] == [b"in"]


def test_memory_stays_bounded_while_many_clients_send_huge_requests_slowly(fresh_broker, topic_name):
    # A 64 MiB budget for request bytes; each attacker claims a 50 MiB request (within
    # maxRequestSize) and sends up to 2 MiB of it. Read without a budget, 60 of them would make
    # the broker hold 120 MiB; with it, one is read at a time and the rest wait unread.
    b = fresh_broker({"queuedMaxRequestBytes": 64 << 20, "maxRequestSize": 64 << 20,
                      "kopRequestReadTimeoutMs": 60000})
    create_topic(b.bootstrap, topic_name)
    produce_all(producer(b.bootstrap), topic_name, [(None, b"warm", {})])
    before = rss_bytes(b.proc.pid)
    attackers = []
    chunk = b"\x00" * (256 << 10)
    try:
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
            s.setblocking(False)
            s.send(struct.pack(">i", 50 << 20) + struct.pack(">hhi", 0, 3, 1))
            attackers.append(s)
        each = [0] * len(attackers)
        deadline = time.time() + 20
        while time.time() < deadline and min(each) < 2 << 20:
            progress = 0
            for i, s in enumerate(attackers):
                if each[i] >= 2 << 20:
                    continue
                try:
                    n = s.send(chunk[:(2 << 20) - each[i]])
                except BlockingIOError:
                    continue
                each[i] += n
                progress += n
            if progress == 0:
                time.sleep(0.05)
        sent = sum(each)
        # Let the broker read whatever it is going to read.
        time.sleep(1)
        during = rss_bytes(b.proc.pid)
        # Served as usual meanwhile: a producer gets in and is answered.
        produce_all(producer(b.bootstrap), topic_name, [(None, b"still served", {})], timeout=60)
    finally:
        for s in attackers:
            s.close()
    growth = during - before
    print(f"attack: {sent >> 20} MiB sent by {len(attackers)} clients, RSS grew {growth >> 20} MiB")
    # One budget's worth (64 MiB) plus buffers; unbounded reading would hold everything sent.
    assert growth < 96 << 20, f"RSS grew {growth >> 20} MiB while {sent >> 20} MiB were sent"
    assert [m.value() for m in consume(b.bootstrap, topic_name, [0], 2)] == [b"warm", b"still served"]
