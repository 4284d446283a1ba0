"""A real Apache Pulsar broker with kop's NAR, for the `pulsar` host.

Pulsar standalone (`org.apache.pulsar.PulsarStandaloneStarter`: RocksDB metadata, one embedded
bookie) runs from the Maven Central jars that `tests/pulsar/pom.xml` resolves; `scripts/test`
writes their class path to `tests/pulsar/target/classpath.txt`. The broker loads the NAR from its
`protocols/` directory with Pulsar's own ProtocolHandlers and NarClassLoader, as a user's does.
"""

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASSPATH_FILE = ROOT / "tests" / "pulsar" / "target" / "classpath.txt"
NAR = ROOT / "java-shim" / "build" / "kop.nar"

INDEX_INTERCEPTORS = ("org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor,"
                      "org.apache.pulsar.common.intercept.AppendBrokerTimestampMetadataInterceptor")

# What KoP's tests open to the broker's reflection on Java 17.
JVM_OPENS = ["java.base/jdk.internal.loader", "java.base/java.lang", "java.base/java.io", "java.base/java.util",
             "java.base/sun.net", "java.management/sun.management", "java.base/jdk.internal.platform"]

# Sized for a 2-core, 24 GiB machine that runs the client, this broker and sometimes a second one.
JVM_MEMORY = ["-Xms128m", "-Xmx768m", "-XX:MaxDirectMemorySize=768m"]

ADMIN_ROLE = "kop-test-admin"

METADATA_SESSION_MS = 5000

# ZooKeeper caps every session at 20 ticks. The embedded bookie asks for 30 s sessions, so without
# the cap its registration would outlive a killed broker by half a minute.
TICK_MS = METADATA_SESSION_MS // 20


def classpath(path=CLASSPATH_FILE):
    if not path.exists():
        raise RuntimeError(f"{path} is missing: scripts/setup resolves the Pulsar jars with Maven")
    return path.read_text().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(key: bytes, subject: str) -> str:
    """A Pulsar token (a JWT signed with HS256) whose role is `subject`."""
    head = _b64(json.dumps({"alg": "HS256"}).encode())
    body = _b64(json.dumps({"sub": subject}).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def token_auth_config(key: bytes) -> dict:
    """Broker settings for token authentication with `key`, including the broker's own admin client."""
    return {
        "authenticationEnabled": True,
        "authenticationProviders": "org.apache.pulsar.broker.authentication.AuthenticationProviderToken",
        "tokenSecretKey": "data:;base64," + base64.b64encode(key).decode(),
        "superUserRoles": ADMIN_ROLE,
        "brokerClientAuthenticationPlugin": "org.apache.pulsar.client.impl.auth.AuthenticationToken",
        "brokerClientAuthenticationParameters": "token:" + hs256_token(key, ADMIN_ROLE),
    }


def new_token_key() -> bytes:
    return secrets.token_bytes(32)


class PulsarProcess:
    """One Pulsar standalone broker: its configuration, ports and data directories. The same object
    restarts on the same ports and data, so a kill -9 and restart keeps what BookKeeper stored."""

    # The broker's jars and the protocol handler it loads; the KoP reference host swaps both.
    classpath_file = CLASSPATH_FILE
    nar = NAR

    def __init__(self, workdir: Path, kafka_listener: str, settings: dict, ports: dict, zookeeper=None,
                 with_bookie=True, jvm_options=()):
        """`zookeeper` (`host:port`) makes this broker one of a cluster sharing that metadata store;
        with `with_bookie` false it is a plain broker (`PulsarBrokerStarter`) using the bookie
        another member runs."""
        self.workdir = Path(workdir)
        self.zookeeper = zookeeper
        self.with_bookie = with_bookie
        self.jvm_options = list(jvm_options)
        self.kafka_listener = kafka_listener
        self.settings = settings
        self.ports = ports
        self.proc = None
        self.log_path = self.workdir / "broker.log"

    @property
    def web_url(self):
        return f"http://127.0.0.1:{self.ports['web']}"

    def admin_token(self):
        params = self.settings.get("brokerClientAuthenticationParameters", "")
        return params[len("token:"):] if params.startswith("token:") else None

    def write_config(self):
        protocols = self.workdir / "protocols"
        protocols.mkdir(parents=True, exist_ok=True)
        for old in protocols.glob("*.nar"):
            old.unlink()
        if not self.nar.exists():
            raise RuntimeError(f"{self.nar} is missing: run java-shim/build.sh first")
        # Exactly one copy: every *.nar in the directory is loaded.
        (protocols / "kop.nar").write_bytes(self.nar.read_bytes())
        conf = {
            "clusterName": "standalone",
            "advertisedAddress": "127.0.0.1",
            "bindAddress": "127.0.0.1",
            "brokerServicePort": self.ports["broker"],
            "webServicePort": self.ports["web"],
            "managedLedgerDefaultEnsembleSize": 1,
            "managedLedgerDefaultWriteQuorum": 1,
            "managedLedgerDefaultAckQuorum": 1,
            "messagingProtocols": "kafka",
            "protocolHandlerDirectory": str(protocols),
            "narExtractionDirectory": str(self.workdir / "nar"),
            "brokerEntryMetadataInterceptors": INDEX_INTERCEPTORS,
            "brokerDeduplicationEnabled": False,
            "brokerDeleteInactiveTopicsEnabled": False,
            # Kafka topics have no subscriptions: without retention Pulsar deletes rolled ledgers.
            "defaultRetentionTimeInMinutes": -1,
            "defaultRetentionSizeInMB": -1,
            "kafkaListeners": self.kafka_listener,
            # See PulsarBroker.kill9: a crashed broker's metadata session must expire quickly.
            "metadataStoreSessionTimeoutMillis": METADATA_SESSION_MS,
        }
        if self.zookeeper:
            conf["metadataStoreUrl"] = f"zk:{self.zookeeper}"
            conf["configurationMetadataStoreUrl"] = f"zk:{self.zookeeper}"
        conf.update(self.settings)
        lines = []
        for key, value in conf.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"{key}={value}")
        path = self.workdir / "standalone.conf"
        path.write_text("\n".join(lines) + "\n")
        log4j = self.workdir / "log4j2.xml"
        log4j.write_text(
            '<Configuration status="warn"><Appenders><Console name="out" target="SYSTEM_OUT">'
            '<PatternLayout pattern="%d{HH:mm:ss.SSS} %-5level [%t] %c{1} - %msg%n"/></Console></Appenders>'
            '<Loggers><Logger name="org.apache.pulsar.broker.web.RequestLog" level="warn"/>'
            '<Logger name="org.apache.bookkeeper" level="warn"/><Logger name="org.apache.zookeeper" level="warn"/>'
            '<Root level="info"><AppenderRef ref="out"/></Root></Loggers></Configuration>\n')
        return path

    def command(self):
        data = self.workdir / "data"
        args = ["java", *JVM_MEMORY, "-XX:+UseG1GC", *self.jvm_options]
        for opening in JVM_OPENS:
            args += ["--add-opens", f"{opening}=ALL-UNNAMED"]
        args += [f"-Dlog4j.configurationFile={self.workdir / 'log4j2.xml'}", "-Dpulsar.allocator.exit_on_oom=true",
                 "-Djava.net.preferIPv4Stack=true", "-cp", classpath(self.classpath_file)]
        conf = str(self.write_config())
        if not self.with_bookie:
            return args + ["org.apache.pulsar.PulsarBrokerStarter", "--broker-conf", conf]
        args += ["org.apache.pulsar.PulsarStandaloneStarter", "-c", conf, "-nfw", "-nss",
                 "--bookkeeper-dir", str(data / "bookkeeper"), "--bookkeeper-port", str(self.ports["bookie"])]
        if self.zookeeper:
            return args + ["--metadata-url", f"zk:{self.zookeeper}"]
        return args + ["--metadata-dir", str(data / "metadata")]

    def spawn(self, env):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.workdir)
        return self.proc

    def request(self, path, method="GET", body=None, timeout=10):
        """An admin REST call, authenticated as the broker's admin role when auth is on."""
        headers = {"Content-Type": "application/json"}
        token = self.admin_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        url = self.web_url + path
        for _ in range(3):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    text = resp.read().decode()
                    return resp.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
            except urllib.error.HTTPError as e:
                # Brokers send admin calls on to the owner or the leader with a 307, which urllib
                # follows only for GET.
                if e.code not in (307, 308) or not e.headers.get("Location"):
                    raise
                url = e.headers["Location"]
        raise RuntimeError(f"too many redirects for {path}")

    def healthy(self):
        try:
            status, _ = self.request("/admin/v2/brokers/health", timeout=2)
            return status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False


def wait_healthy(process: PulsarProcess, timeout: float):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.proc.poll() is not None:
            return False
        if process.healthy():
            return True
        time.sleep(0.2)
    return False


class ZooKeeper:
    """A ZooKeeper server (from the broker's own class path): the metadata store two brokers share."""

    def __init__(self, workdir: Path, port: int):
        self.workdir = Path(workdir)
        self.port = port
        self.proc = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=60):
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "zookeeper.log", "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=ruok", "-cp", classpath(),
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.port), str(self.workdir / "data"),
             str(TICK_MS)],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.proc.returncode}")
            if self._ok():
                return self
            time.sleep(0.2)
        raise RuntimeError("ZooKeeper did not come up")

    def _ok(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"ruok")
                return s.recv(4) == b"imok"
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main():
    """`python3 tests/compat/pulsar.py WORKDIR KAFKA_PORT`: a broker with the NAR for benchmarks and
    by-hand checks, serving until interrupted."""
    import signal
    import sys

    from brokers import free_port as free

    workdir, kafka_port = Path(sys.argv[1]), int(sys.argv[2])

    workdir.mkdir(parents=True, exist_ok=True)
    process = PulsarProcess(workdir, f"PLAINTEXT://127.0.0.1:{kafka_port}", {},
                            {"broker": free(), "web": free(), "bookie": free()})
    proc = process.spawn(None)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    if not wait_healthy(process, 180):
        proc.kill()
        sys.exit(f"the broker did not become healthy; see {process.log_path}")
    print(f"Pulsar broker healthy at {process.web_url}, Kafka on 127.0.0.1:{kafka_port}", flush=True)
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
