"""Hand-built Kafka frames, for checks no well-behaved client would make."""

import socket
import struct
import time

from kafka.record.default_records import DefaultRecordBatchBuilder


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(api_key, version, correlation_id, body, client_id="kop-tests"):
    """A request with a v1 (non-flexible) header."""
    payload = struct.pack(">hhi", api_key, version, correlation_id) + string(client_id) + body
    return struct.pack(">i", len(payload)) + payload


def connect(bootstrap, timeout=10):
    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_response(s):
    """Returns (correlation_id, body) of the next response (v0 header)."""
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    data = recv_exact(s, size)
    return struct.unpack(">i", data[:4])[0], data[4:]


def closed_by_peer(s, timeout=10):
    """True if the peer closes the connection (EOF or reset) within `timeout`."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def record_batch(values, timestamp=1_700_000_000_000, producer_id=-1, producer_epoch=-1, base_sequence=-1):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=producer_id,
                                        producer_epoch=producer_epoch, base_sequence=base_sequence,
                                        batch_size=1 << 30)
    for i, v in enumerate(values):
        builder.append(i, timestamp=timestamp + i, key=None, value=v, headers=[])
    return bytes(builder.build())


def produce_v3(topic, partition, records, acks=-1, timeout_ms=10000):
    body = string(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1)
    body += struct.pack(">i", partition) + struct.pack(">i", len(records)) + records
    return body


def parse_produce_v3(body):
    """[(topic, partition, error_code, base_offset)] of a Produce v3 response."""
    out, at = [], 0
    (n_topics,) = struct.unpack_from(">i", body, at)
    at += 4
    for _ in range(n_topics):
        (ln,) = struct.unpack_from(">h", body, at)
        at += 2
        topic = body[at:at + ln].decode()
        at += ln
        (n_parts,) = struct.unpack_from(">i", body, at)
        at += 4
        for _ in range(n_parts):
            partition, error, base_offset, _append_time = struct.unpack_from(">ihqq", body, at)
            at += 22
            out.append((topic, partition, error, base_offset))
    return out


def fetch_v4(topic, partition, offset, max_wait_ms, min_bytes=1, max_bytes=1 << 20):
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", partition, offset, max_bytes)
    return body


def parse_fetch_v4(body):
    """(error_code, high_watermark, records_bytes) of the single partition in a Fetch v4 response."""
    at = 4  # throttle
    at += 4  # topic count (1)
    (ln,) = struct.unpack_from(">h", body, at)
    at += 2 + ln + 4  # name, partition count
    _partition, error, hw, _lso = struct.unpack_from(">ihqq", body, at)
    at += 22
    (n_aborted,) = struct.unpack_from(">i", body, at)
    at += 4 + max(n_aborted, 0) * 16
    (n_records,) = struct.unpack_from(">i", body, at)
    at += 4
    return error, hw, body[at:at + max(n_records, 0)]


def init_producer_id_v0():
    return string(None) + struct.pack(">i", 60000)


def parse_init_producer_id_v0(body):
    """(error_code, producer_id, epoch)."""
    _throttle, error, producer_id, epoch = struct.unpack(">ihqh", body[:16])
    return error, producer_id, epoch


def wait_until_fetchable(bootstrap, topic, partition=0, timeout=10):
    """Waits while a fetch of the partition answers NOT_LEADER_OR_FOLLOWER: Kafka's new partitions
    take a moment to know their leader after Metadata names it."""
    deadline = time.time() + timeout
    while True:
        s = connect(bootstrap)
        s.sendall(frame(1, 4, 1, fetch_v4(topic, partition, 0, max_wait_ms=0)))
        _, body = read_response(s)
        s.close()
        if parse_fetch_v4(body)[0] != 6 or time.time() > deadline:
            return
        time.sleep(0.2)
