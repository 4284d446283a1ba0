"""Apache Kafka itself as a host of the compat suite (`KOP_TEST_HOST=kafka`): a single-node KRaft
broker (combined broker and controller) from the Maven Central jars that scripts/test resolves
into tests/kafka/target/classpath.txt. It is the reference, not a product host: a test that fails
here is a wrong test. Run it with `scripts/test-kafka`; not in CI.

Tests give their brokers kop's settings; those with a Kafka equivalent are translated, and a test
that needs a setting Kafka has no equivalent for (kop's own limits, SASL and TLS set-ups written
for kop) is skipped here, naming the setting."""

import base64
import subprocess
import uuid
from pathlib import Path

import pytest

from brokers import StandaloneBroker, free_port

CLASSPATH = Path(__file__).resolve().parent.parent / "kafka" / "target" / "classpath.txt"

# kop's keys and Kafka's, with a check of values Kafka refuses.
TRANSLATED = {
    "groupInitialRebalanceDelayMs": "group.initial.rebalance.delay.ms",
    "logRetentionCheckIntervalMs": "log.retention.check.interval.ms",
    "connectionMaxIdleMs": "connections.max.idle.ms",
    "maxConnections": "max.connections",
    "queuedMaxRequestBytes": "queued.max.request.bytes",
    "maxRequestSize": "socket.request.max.bytes",
    "allowAutoTopicCreation": "auto.create.topics.enable",
    "defaultNumPartitions": "num.partitions",
    "logSegmentBytes": "log.segment.bytes",
}
MINIMUM = {"log.segment.bytes": 1024 * 1024}

LOG4J = """\
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.noisy.name = org.apache.kafka.clients
logger.noisy.level = WARN
"""


class KafkaBroker(StandaloneBroker):
    """Apache Kafka 4.x, KRaft, one node; can be stopped, killed and restarted like `kop serve`."""

    durable = True
    name = "Apache Kafka"
    # The JVM exits with 128+SIGTERM once its shutdown hook has closed the server.
    clean_exit_codes = (0, 143)
    stopped_line = "shut down completed"
    start_timeout = 90

    def __init__(self, workdir: Path, config: dict | None = None, scheme: str = "PLAINTEXT"):
        super().__init__(workdir, config, scheme)
        if scheme != "PLAINTEXT":
            pytest.skip(f"the Kafka host runs PLAINTEXT only ({scheme} is set up for kop)")
        self.controller_port = free_port()
        self.properties = self._properties()
        self.formatted = False

    def _properties(self):
        props = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
        }
        for key, value in self.config.items():
            if key not in TRANSLATED:
                pytest.skip(f"kop setting {key} has no Kafka equivalent")
            name = TRANSLATED[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            if name in MINIMUM and int(value) < MINIMUM[name]:
                pytest.skip(f"Kafka refuses {name}={value} (its minimum is {MINIMUM[name]})")
            props[name] = value
        path = self.workdir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.workdir / "log4j2.properties").write_text(LOG4J)
        return path

    @staticmethod
    def sasl_user(user, secret):
        pytest.skip("the SASL tests configure kop's users; the Kafka host runs without SASL")

    @staticmethod
    def bearer_token(principal):
        pytest.skip("the OAUTHBEARER tests configure kop's tokens; the Kafka host runs without SASL")

    def _java(self, main, *args):
        if not CLASSPATH.exists():
            raise RuntimeError(f"{CLASSPATH} is missing: scripts/test resolves it (tests/kafka)")
        return ["java", "-Xmx1g", f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
                "-cp", CLASSPATH.read_text().strip(), main, *map(str, args)]

    def command(self):
        return self._java("kafka.Kafka", self.properties)

    def spawn(self, env):
        if not self.formatted:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            done = subprocess.run(self._java("kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                                             "-c", self.properties), capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"kafka-storage format failed:\n{done.stdout}\n{done.stderr}")
            self.formatted = True
        return super().spawn(env)
