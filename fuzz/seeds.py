#!/usr/bin/env python3
"""Turns what the `recording` compat host kept (tests/compat/recording.py) into seed inputs for
each fuzz target, under fuzz/raw-seeds/<target>/; `fuzz/check.sh --merge` then keeps the ones
that add coverage in fuzz/seeds/<target>/.

    KOP_TEST_HOST=recording KOP_RECORD_DIR=/tmp/rec .venv/bin/pytest tests/compat
    fuzz/seeds.py /tmp/rec
"""

import hashlib
import struct
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "raw-seeds"
ENTRY_HEADER = 32
# A dispatch seed is one connection's first frames, as long as they stay a small input.
CONVERSATION_MAX = 64 * 1024


def put(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def frames(conn: bytes):
    at = 0
    while at + 4 <= len(conn):
        (size,) = struct.unpack_from(">i", conn, at)
        yield conn[at + 4:at + 4 + size]
        at += 4 + size


def uvarint(b, at):
    value = shift = 0
    while True:
        byte = b[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def sasl_bytes(frame):
    """The auth bytes of a SaslAuthenticate request (header v1 for v0-1, v2 for v2)."""
    api, version = struct.unpack_from(">hh", frame)
    at = 8
    (client_len,) = struct.unpack_from(">h", frame, at)
    at += 2 + max(client_len, 0)
    if version >= 2:
        _, at = uvarint(frame, at)  # header tagged fields
        n, at = uvarint(frame, at)
        return frame[at:at + n - 1]
    (n,) = struct.unpack_from(">i", frame, at)
    return frame[at + 4:at + 4 + n]


def entries(segment: bytes):
    at = 0
    while at + ENTRY_HEADER <= len(segment):
        (length,) = struct.unpack_from(">I", segment, at)
        batch = segment[at + ENTRY_HEADER:at + ENTRY_HEADER + length]
        if len(batch) < length:
            return
        yield batch
        at += ENTRY_HEADER + length


def main(record_dir):
    record_dir = Path(record_dir)
    for conn in sorted((record_dir / "frames").glob("*.conn")):
        conversation = b""
        for frame in frames(conn.read_bytes()):
            if len(frame) < 8:
                continue
            put("request_decode", frame)
            if struct.unpack_from(">h", frame)[0] == 36:
                try:
                    put("sasl", sasl_bytes(frame))
                except (IndexError, struct.error):
                    pass
            if len(frame) < 65536 and len(conversation) + 2 + len(frame) <= CONVERSATION_MAX:
                conversation += struct.pack(">H", len(frame)) + frame
        if conversation:
            put("dispatch", conversation)
    for partition in sorted((record_dir / "segments").glob("*/*/*")):
        logs = sorted(partition.glob("*.log"))
        offsets_read = b""
        for log in logs:
            data = log.read_bytes()
            for batch in entries(data):
                put("records", batch)
                offsets_read += batch
            index = log.with_suffix(".index")
            sealed, body = (data, index.read_bytes()[:-4]) if index.exists() else (b"", b"")
            active = b"" if index.exists() else data
            if len(sealed) < 65536 and len(body) < 65536:
                put("segment_recovery", struct.pack("<HH", len(sealed), len(body)) + sealed + body + active)
        if partition.parent.name == "offsets" and offsets_read:
            put("offsets_log", offsets_read[:CONVERSATION_MAX])


if __name__ == "__main__":
    main(sys.argv[1])
