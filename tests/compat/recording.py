"""Host `recording`: `kop serve` behind a proxy that keeps every request frame the clients send,
and a copy of the broker's segment files when it stops, as seeds for the fuzz targets.

`KOP_TEST_HOST=recording KOP_RECORD_DIR=DIR pytest tests/compat`, then `fuzz/seeds.py DIR`.
Clients see only the proxy: the broker advertises the proxy's port. TLS listeners are served
without the proxy (their frames are encrypted).
"""

import os
import shutil
import socket
import struct
import threading
import uuid
from pathlib import Path

from brokers import StandaloneBroker, free_port

# Segment files larger than this make poor seeds: the fuzzer's inputs stay small.
SEED_FILE_MAX = 64 * 1024


def _recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class RecordingBroker(StandaloneBroker):
    name = "kop serve (recorded)"

    def __init__(self, workdir: Path, config: dict | None = None, scheme: str = "PLAINTEXT"):
        super().__init__(workdir, config, scheme)
        self.record_dir = Path(os.environ["KOP_RECORD_DIR"])
        (self.record_dir / "frames").mkdir(parents=True, exist_ok=True)
        self.proxied = not scheme.endswith("SSL")
        self.inner_port = free_port() if self.proxied else self.port
        if self.proxied:
            self.config = dict(self.config, kafkaAdvertisedListeners=f"{scheme}://127.0.0.1:{self.port}")
        self._server = None

    @property
    def listener(self):
        return f"{self.scheme}://127.0.0.1:{self.inner_port}"

    def start(self, timeout=None):
        if self.proxied and self._server is None:
            self._server = socket.create_server(("127.0.0.1", self.port))
            threading.Thread(target=self._accept, daemon=True).start()
        return super().start(timeout)

    def stop(self, timeout=20):
        code = super().stop(timeout)
        self._keep_segments()
        return code

    def kill9(self):
        super().kill9()
        self._keep_segments()

    def _keep_segments(self):
        target = self.record_dir / "segments" / uuid.uuid4().hex
        for path in self.data_dir.glob("topics/*/*/*"):
            if path.suffix in (".log", ".index") and path.stat().st_size <= SEED_FILE_MAX:
                kind = "offsets" if path.parts[-3] == "__consumer_offsets" else "topic"
                dest = target / kind / f"{path.parts[-3]}-{path.parts[-2]}" / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.inner_port))
        except OSError:
            client.close()
            return
        record = open(self.record_dir / "frames" / f"{uuid.uuid4().hex}.conn", "wb")

        def back():
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:
                # shutdown, not only close: the other thread is still reading this socket.
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                client.close()

        threading.Thread(target=back, daemon=True).start()
        try:
            while (head := _recv_exact(client, 4)) is not None:
                (size,) = struct.unpack(">i", head)
                frame = _recv_exact(client, size) if 0 <= size <= 16 << 20 else None
                if frame is None:
                    break
                record.write(head + frame)
                upstream.sendall(head + frame)
        except OSError:
            pass
        finally:
            record.close()
            try:
                upstream.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            upstream.close()
