"""The broker under test, as a fixture-friendly object.

Every compat test talks to a `Broker` through its `bootstrap` address only, so the same tests run
against each host: `standalone` (`kop serve` on the embedded engine) and `pulsar` (the NAR inside
a real Apache Pulsar broker). Pick one with KOP_TEST_HOST.
"""

import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pulsar

ROOT = Path(__file__).resolve().parents[2]
KOP_BIN = Path(os.environ.get("KOP_BIN", ROOT / "target" / "release" / "kop"))
HOST = os.environ.get("KOP_TEST_HOST", "standalone")


def _ephemeral_range():
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def free_port():
    """A port for a listener that binds it later. Taken below the kernel's ephemeral range: a
    port from that range (what binding port 0 gives) can become the source port of any outgoing
    connection in the seconds before a JVM broker binds it (CI saw a Pulsar broker fail with
    "Address already in use" that way). Never the same port twice in one run, so a stopped
    broker's port is not handed to the next while it lingers."""
    low = min(_ephemeral_range()[0], 32768)
    start = max(1024, low - 12000)
    for _ in range(1000):
        port = random.randrange(start, low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {start}..{low}")


def api_versions_ok(port, timeout=1.0, tls=False):
    """True once the port answers an ApiVersions v0 request (over TLS, unverified, if `tls`)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            s = raw
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                s = context.wrap_socket(raw)
            s.sendall(struct.pack(">ihhih", 10, 18, 0, 1, -1))
            head = s.recv(4)
            return len(head) == 4
    except ssl.SSLError:
        return True  # a TLS server answered: it is up, and wants a client certificate
    except OSError:
        return False


class StandaloneBroker:
    """`kop serve` with its own data directory; can be stopped, killed and restarted."""

    durable = True
    # Whether the host keeps copies of every log itself (Pulsar's bookies), so any replication
    # factor is taken.
    replicates = False
    name = "kop serve"
    clean_exit_codes = (0,)
    # What the log says once the broker has drained its clients and flushed its logs.
    stopped_line = "stopped"

    def __init__(self, workdir: Path, config: dict | None = None, scheme: str = "PLAINTEXT"):
        self.workdir = Path(workdir)
        self.scheme = scheme
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.port = free_port()
        self.config = config or {}
        self.proc = None
        self.log_path = self.workdir / "kop.log"

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def listener(self):
        return f"{self.scheme}://{self.bootstrap}"

    @staticmethod
    def sasl_user(user, secret):
        """The config that lets `user` in with SASL/PLAIN, and the password that user sends."""
        return {"saslPlainUsers": {user: secret}}, secret

    @staticmethod
    def bearer_token(principal):
        """The config that lets a client in as `principal` (OAUTHBEARER), and its bearer token."""
        token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcmRlcnMifQ.bearer-for-tests"
        return {"saslOauthbearerTokens": {token: principal}}, token

    def _config_file(self):
        path = self.workdir / "kop.toml"
        lines = []
        for key, value in self.config.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, (int, float)):
                lines.append(f"{key} = {value}")
            elif isinstance(value, dict):
                items = ", ".join(f'"{k}" = "{v}"' for k, v in value.items())
                lines.append(f"{key} = {{ {items} }}")
            else:
                lines.append(f'{key} = "{value}"')
        path.write_text("\n".join(lines) + "\n")
        return path

    def command(self):
        if not KOP_BIN.exists():
            raise RuntimeError(f"{KOP_BIN} is missing: run `cargo build --release` first")
        return [str(KOP_BIN), "serve", "--listen", self.listener, "--data-dir", str(self.data_dir),
                "--config", str(self._config_file())]

    # Seconds a start may take before the test gives up on the broker.
    start_timeout = 30

    def spawn(self, env):
        log = open(self.log_path, "ab")
        return subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_for_host(self, deadline):
        """Waits until the host under kop is up; `kop serve` has none of its own."""

    def start(self, timeout=None):
        timeout = timeout or self.start_timeout
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.proc = self.spawn(env)
        deadline = time.time() + timeout
        self.wait_for_host(deadline)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if api_versions_ok(self.port, tls=self.scheme.endswith("SSL")):
                return self
            time.sleep(0.05)
        self.stop_quietly()
        raise RuntimeError(f"{self.name} did not serve Kafka in {timeout}s:\n{self.log()}")

    def stop_quietly(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{self.name} did not stop on SIGTERM")
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """The end of the log, for failure messages."""
        return self.logged()[-5000:]

    def logged(self):
        """The whole log."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class PulsarBroker(StandaloneBroker):
    """The NAR inside a real Apache Pulsar broker (standalone: one embedded bookie, metadata in a
    ZooKeeper), started from Maven Central jars. Records live in BookKeeper, so they survive kill -9.
    `config` entries are broker.conf lines: kop's `kafka*` keys and Pulsar's own."""

    durable = True
    replicates = True
    name = "Pulsar broker"
    # The JVM exits with 128+SIGTERM after its shutdown hooks (which close the handler) complete.
    clean_exit_codes = (0, 143)
    process_class = pulsar.PulsarProcess

    def __init__(self, workdir: Path, config: dict | None = None, scheme: str = "PLAINTEXT", zookeeper=None,
                 with_bookie=True, jvm_options=()):
        super().__init__(workdir, config, scheme)
        ports = {"broker": free_port(), "web": free_port(), "bookie": free_port()}
        self.ports = ports
        # A broker of its own keeps its metadata in a ZooKeeper of its own, which outlives a kill -9
        # of the broker. Standalone's default RocksDB store keeps the crashed bookie's registration,
        # and Pulsar 4.0.7's lock revalidation then deletes and re-creates the new one in a loop for
        # minutes, during which the broker mostly cannot reach its bookie.
        self.own_zookeeper = None
        if zookeeper is None and with_bookie:
            self.own_zookeeper = pulsar.ZooKeeper(self.workdir / "zookeeper", free_port())
        if zookeeper:
            # Lookups answer with the owner's advertised listener named `kafka`: its Kafka address.
            self.config = {**self.config, "kafkaListenerName": "kafka", "internalListenerName": "internal",
                           "advertisedListeners": f"internal:pulsar://127.0.0.1:{ports['broker']},"
                                                  f"kafka:pulsar://127.0.0.1:{self.port}"}
        metadata = zookeeper or (self.own_zookeeper.address if self.own_zookeeper else None)
        self.process = self.process_class(self.workdir, self.listener, self.config, ports, metadata, with_bookie,
                                          jvm_options)
        self.log_path = self.process.log_path

    @property
    def broker_id(self):
        """How Pulsar's load manager names this broker (`host:webServicePort`)."""
        return f"127.0.0.1:{self.ports['web']}"

    @property
    def pulsar_url(self):
        return f"pulsar://127.0.0.1:{self.ports['broker']}"

    @staticmethod
    def sasl_user(user, secret):
        """Token authentication on the broker: the password is `token:<a JWT whose role is user>`."""
        key = pulsar.new_token_key()
        return pulsar.token_auth_config(key), "token:" + pulsar.hs256_token(key, user)

    @staticmethod
    def bearer_token(principal):
        """Token authentication on the broker, and a Pulsar token for `principal` as the bearer token."""
        key = pulsar.new_token_key()
        return pulsar.token_auth_config(key), pulsar.hs256_token(key, principal)

    def command(self):
        return self.process.command()

    start_timeout = 180

    def spawn(self, env):
        if self.own_zookeeper and (self.own_zookeeper.proc is None or self.own_zookeeper.proc.poll() is not None):
            self.own_zookeeper.start()
        return self.process.spawn(env)

    def stop(self, timeout=20):
        try:
            return super().stop(timeout)
        finally:
            if self.own_zookeeper:
                self.own_zookeeper.stop()

    def stop_quietly(self):
        super().stop_quietly()
        if self.own_zookeeper:
            self.own_zookeeper.stop()

    def wait_for_host(self, deadline):
        if not pulsar.wait_healthy(self.process, deadline - time.time()):
            self.stop_quietly()
            raise RuntimeError(f"{self.name} did not become healthy:\n{self.log()}")

    def kill9(self):
        """kill -9, and the broker stays down until its metadata sessions have expired. The
        bookie's registration is an ephemeral node of such a session: a bookie restarted sooner
        finds its old registration and refuses to start. A crashed broker in a real deployment is
        down at least that long before its node is reused."""
        super().kill9()
        time.sleep(2 * pulsar.METADATA_SESSION_MS / 1000)

    def log(self):
        """The broker's first errors (a failed start is buried under its shutdown), then the end."""
        text = self.logged()
        errors = [line for line in text.splitlines() if " ERROR " in line][:20]
        return "\n".join(errors) + "\n...\n" + text[-3000:]

    def admin(self, path, method="GET", body=None):
        """A Pulsar admin REST call: (status, decoded body)."""
        return self.process.request(path, method, body)



def pulsar_cluster(workdir: Path, size: int, config: dict | None = None, scheme: str = "PLAINTEXT"):
    """ZooKeeper and `size` Pulsar brokers sharing it, none started yet. The first runs the one
    bookie (and sets up the cluster's metadata when it starts); the others are plain brokers."""
    zookeeper = pulsar.ZooKeeper(Path(workdir) / "zookeeper", free_port())
    members = [PulsarBroker(Path(workdir) / f"member{i}", config, scheme, zookeeper=zookeeper.address,
                            with_bookie=(i == 0))
               for i in range(size)]
    return zookeeper, members


HOSTS = {"standalone": StandaloneBroker, "pulsar": PulsarBroker}


def host_class():
    if HOST == "recording":
        from recording import RecordingBroker  # seeds for the fuzz targets; see recording.py
        return RecordingBroker
    if HOST == "kafka":
        from apache_kafka import KafkaBroker  # the reference: Apache Kafka itself; see apache_kafka.py
        return KafkaBroker
    if HOST == "kop-java":
        from kop_java import KopJavaBroker  # StreamNative's KoP in a Pulsar broker; see kop_java.py
        return KopJavaBroker
    if HOST not in HOSTS:
        raise RuntimeError(f"unknown KOP_TEST_HOST {HOST!r} (expected one of {sorted(HOSTS)})")
    return HOSTS[HOST]


def make_broker(workdir, config=None, scheme="PLAINTEXT", **options):
    """`options` are the host's own (a Pulsar broker's `jvm_options`)."""
    return host_class()(workdir, config, scheme, **options)
