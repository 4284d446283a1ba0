"""The broker under test, as a fixture-friendly object.

Every compat test talks to a `Broker` through its `bootstrap` address only, so the same tests run
against each host: `standalone` (`kop serve` on the embedded engine) and, once it exists, `pulsar`
(the Java shim inside the stand-in broker). Pick one with KOP_TEST_HOST.
"""

import os
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KOP_BIN = Path(os.environ.get("KOP_BIN", ROOT / "target" / "release" / "kop"))
SHIM_BUILD = ROOT / "java-shim" / "build"
NETTY_JARS = [f"/usr/share/java/{j}.jar" for j in ("netty-buffer", "netty-common", "netty-transport")]
HOST = os.environ.get("KOP_TEST_HOST", "standalone")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    name = "kop serve"
    clean_exit_codes = (0,)

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
    def bearer_token(principal, token):
        """The config that lets a client with bearer `token` in as `principal` (OAUTHBEARER)."""
        return {"saslOauthbearerTokens": {token: principal}}

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

    def start(self, timeout=30):
        args = self.command()
        log = open(self.log_path, "ab")
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if api_versions_ok(self.port, tls=self.scheme.endswith("SSL")):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not come up in {timeout}s:\n{self.log()}")

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
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


class StandInBroker(StandaloneBroker):
    """The NAR loaded by the stand-in Pulsar broker (a JVM): the shim's lifecycle, and every record
    stored through the broker's publish path into in-memory managed ledgers, which do not outlive
    the JVM. Files in `fault_dir` make the ledgers fail (`fail-appends`, `fail-reads`)."""

    durable = False
    name = "stand-in broker"
    # The JVM exits with 128+SIGTERM after its shutdown hooks (which close the handler) complete.
    clean_exit_codes = (0, 143)

    @staticmethod
    def sasl_user(user, secret):
        """As a Pulsar broker with token authentication: the secret is a token whose role is
        `user`, sent as the password `token:<token>`."""
        return {"standInTokens": f"{secret}={user}"}, f"token:{secret}"

    @staticmethod
    def bearer_token(principal, token):
        """As a Pulsar broker with token authentication: the bearer token is a Pulsar token."""
        return {"standInTokens": f"{token}={principal}"}

    @property
    def fault_dir(self):
        return self.workdir / "faults"

    def command(self):
        nar = SHIM_BUILD / "kop.nar"
        if not nar.exists():
            raise RuntimeError(f"{nar} is missing: run java-shim/build.sh first")
        # The stand-in's runtime classes come first and shadow the compile-only stubs.
        classpath = ":".join([str(SHIM_BUILD / "standin.jar"), str(SHIM_BUILD / "pulsar-api-stubs.jar"), *NETTY_JARS])
        self.fault_dir.mkdir(parents=True, exist_ok=True)
        args = ["java", "-Xmx512m", "-cp", classpath, "io.kop.standin.StandInBroker", "--nar", str(nar),
                "--extract-dir", str(self.workdir / "nar"), "--fault-dir", str(self.fault_dir),
                "--prop", f"kafkaListeners={self.listener}"]
        for key, value in self.config.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            args += ["--prop", f"{key}={value}"]
        return args


class StandInClusterMember(StandInBroker):
    """One stand-in broker of several that share a cluster: each owns the topics the cluster's
    fixed ownership rule gives it, and finds the others' Kafka listeners through Pulsar lookups
    with the advertised listener named `kafka`."""

    def __init__(self, workdir: Path, config: dict, cluster_dir: Path, broker_url: str):
        super().__init__(workdir, {**config, "kafkaListenerName": "kafka"})
        self.cluster_dir = cluster_dir
        self.broker_url = broker_url

    def command(self):
        return super().command() + ["--cluster-dir", str(self.cluster_dir), "--broker-url", self.broker_url]


def standin_cluster(workdir: Path, size: int, config: dict | None = None):
    """`size` stand-in brokers forming one cluster, not started yet."""
    cluster_dir = Path(workdir) / "cluster"
    cluster_dir.mkdir(parents=True, exist_ok=True)
    members = [StandInClusterMember(Path(workdir) / f"member{i}", config or {}, cluster_dir,
                                    f"pulsar://127.0.0.1:{free_port()}") for i in range(size)]
    lines = [f"{m.broker_url} kafka:pulsar://127.0.0.1:{m.port}" for m in members]
    (cluster_dir / "brokers").write_text("\n".join(lines) + "\n")
    return members


HOSTS = {"standalone": StandaloneBroker, "standin": StandInBroker}


def host_class():
    if HOST not in HOSTS:
        raise RuntimeError(f"unknown KOP_TEST_HOST {HOST!r} (expected one of {sorted(HOSTS)})")
    return HOSTS[HOST]


def make_broker(workdir, config=None, scheme="PLAINTEXT"):
    return host_class()(workdir, config, scheme)
