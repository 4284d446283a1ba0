"""A full disk on the embedded host: appends and segment rolls answer KAFKA_STORAGE_ERROR, the
broker keeps serving, nothing acknowledged is lost, and writes resume once space returns, also
across a kill -9.

The data directory is a tmpfs of a few MiB mounted for the test (root, or password-less sudo).
"""

import errno
import os
import shutil
import subprocess
import time

import pytest

import wire
from brokers import HOST, StandaloneBroker
from clients import consume

pytestmark = pytest.mark.skipif(HOST not in ("standalone", "recording"),
                                reason="the Pulsar host's disks are the bookies'")

KAFKA_STORAGE_ERROR = 56
SIZE = 8 << 20


def as_root(*cmd):
    if os.geteuid() != 0:
        cmd = ("sudo", "-n") + cmd
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = as_root("mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0777", "tmpfs", str(mount))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        as_root("umount", "-l", str(mount))


def fill(disk, leave):
    """Writes a filler file until only about `leave` bytes remain free."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        while shutil.disk_usage(disk).free > leave:
            try:
                f.write(b"\0" * min(1 << 16, max(4096, shutil.disk_usage(disk).free - leave)))
                f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
    return filler


def produce(broker, topic, value):
    s = wire.connect(broker.bootstrap)
    try:
        # Stamped now: retention (7 days by default) must not be what removes records here.
        batch = wire.record_batch([value], timestamp=int(time.time() * 1000))
        s.sendall(wire.frame(0, 3, 7, wire.produce_v3(topic, 0, batch)))
        _, body = wire.read_response(s)
    finally:
        s.close()
    [(_, _, error, offset)] = wire.parse_produce_v3(body)
    return error, offset


def create_topic_raw(broker, topic):
    from clients import create_topic
    # Small segments, so the disk fills across rolls as well as inside a segment.
    create_topic(broker.bootstrap, topic, config={"segment.bytes": "16384"})


def test_a_full_disk_refuses_writes_and_loses_nothing(tmp_path, small_disk, topic_name):
    broker = StandaloneBroker(tmp_path / "broker", {"logFlushPolicy": "always"})
    broker.data_dir = small_disk / "data"
    broker.start()
    try:
        create_topic_raw(broker, topic_name)
        filler = fill(small_disk, 96 * 1024)
        acked, refused = [], 0
        for i in range(400):
            value = b"%05d" % i + b"x" * 1000
            error, offset = produce(broker, topic_name, value)
            if error == 0:
                assert offset == len(acked), "offsets stay dense"
                acked.append(value)
            else:
                assert error == KAFKA_STORAGE_ERROR, f"record {i}: error {error}"
                refused += 1
                if refused >= 20:
                    break
        assert refused >= 20, "the disk never filled"
        assert broker.alive(), broker.log()
        assert "storage error" in broker.logged().lower() or "append failed" in broker.logged()

        # Space returns: writes carry on right after the last acknowledged record.
        filler.unlink()
        for i in range(50):
            value = b"after %d" % i
            assert produce(broker, topic_name, value) == (0, len(acked))
            acked.append(value)
        got = consume(broker.bootstrap, topic_name, [0], len(acked))
        assert [m.value() for m in got] == acked

        # And all of it survives a crash.
        broker.kill9()
        broker.start()
        got = consume(broker.bootstrap, topic_name, [0], len(acked))
        assert [m.value() for m in got] == acked
        assert produce(broker, topic_name, b"last") == (0, len(acked))
    finally:
        if broker.alive():
            broker.stop()
