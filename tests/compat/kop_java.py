"""StreamNative's KoP, the Java protocol handler kop re-does, as a host of the compat suite
(`KOP_TEST_HOST=kop-java`): KoP's NAR in StreamNative's Pulsar standalone broker of the version it
was released for, from the class path tests/kop-java/pom.xml resolves. A reference, not a product
host and not in CI: its results are a column of docs/compatibility.md.

KoP is not on Maven Central (only its parent POM and its payload processor are), so the NAR is
built by hand from its source and given as `KOP_JAVA_NAR`; docs/compatibility.md says how.

Tests give their brokers kop's settings. KoP reads the same names for the ones it has; a test that
needs a setting KoP lacks (kop's own limits, TLS files, log segment sizes) is skipped here, naming
it, as on the Kafka host."""

import os
from pathlib import Path

import pytest

import pulsar
from brokers import PulsarBroker

ROOT = Path(__file__).resolve().parents[2]

# kop settings that KoP reads under the same name (Pulsar's own keys pass through as they are).
SHARED = {
    "groupInitialRebalanceDelayMs", "connectionMaxIdleMs", "allowAutoTopicCreation", "defaultNumPartitions",
    "kafkaTransactionalIdExpirationMs", "kafkaTransactionsRemoveExpiredTransactionalIdCleanupIntervalMs",
    "saslAllowedMechanisms", "brokerEntryMetadataInterceptors",
}
PULSAR_KEYS = {
    "authenticationEnabled", "authenticationProviders", "tokenSecretKey", "superUserRoles",
    "brokerClientAuthenticationPlugin", "brokerClientAuthenticationParameters", "authorizationEnabled",
    "kafkaListenerName", "internalListenerName", "advertisedListeners",
}

# What KoP's README and quick start tell a user to set: Kafka 3.2+ clients are idempotent by
# default, which KoP serves only with its transaction coordinator and Pulsar's deduplication on;
# `entryFormat=kafka` is its fast path when no Pulsar client reads the topics.
KOP_SETTINGS = {
    "kafkaTransactionCoordinatorEnabled": True,
    "brokerDeduplicationEnabled": True,
    "allowAutoTopicCreationType": "partitioned",
    "entryFormat": "kafka",
    # Pulsar 3.1 refuses to start on a VM whose NIC speed it cannot read; 4.0 only warns.
    "loadBalancerOverrideBrokerNicSpeedGbps": 10,
}


class KopJavaProcess(pulsar.PulsarProcess):
    classpath_file = ROOT / "tests" / "kop-java" / "target" / "classpath.txt"

    @property
    def nar(self):
        path = os.environ.get("KOP_JAVA_NAR")
        if not path:
            raise RuntimeError("KOP_JAVA_NAR must name KoP's NAR (see docs/compatibility.md)")
        return Path(path)


class KopJavaBroker(PulsarBroker):
    """KoP in StreamNative's Pulsar standalone broker: same ports, data and restarts as the
    `pulsar` host, with KoP's NAR and KoP's recommended settings."""

    name = "KoP (Java)"
    process_class = KopJavaProcess
    # KoP logs no line of its own when it has shut down; the broker's is the nearest.
    stopped_line = "Closed"

    def __init__(self, workdir: Path, config: dict | None = None, scheme: str = "PLAINTEXT", zookeeper=None,
                 with_bookie=True, jvm_options=()):
        for key in config or {}:
            if key not in SHARED and key not in PULSAR_KEYS:
                pytest.skip(f"kop setting {key} has no KoP equivalent")
        super().__init__(workdir, {**KOP_SETTINGS, **(config or {})}, scheme, zookeeper, with_bookie, jvm_options)
