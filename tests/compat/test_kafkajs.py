"""kafkajs, a Kafka client written from scratch in JavaScript (its own protocol code, not
librdkafka's), through `kafkajs/roundtrip.js`: admin, an idempotent gzip producer, a consumer
group that commits and resumes, group and config admin, DeleteRecords; and transactions
(`kafkajs/transactions.js`)."""

import json
import subprocess
from pathlib import Path

import pytest

from brokers import host_class

SCRIPT = Path(__file__).parent / "kafkajs" / "roundtrip.js"


def test_kafkajs_round_trip(broker, topic_name):
    if not (SCRIPT.parent / "node_modules" / "kafkajs").exists():
        pytest.fail("kafkajs is not installed: run `npm ci` in tests/compat/kafkajs (scripts/test does)")
    done = subprocess.run(["node", str(SCRIPT), broker.bootstrap, topic_name], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"kafkajs failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"consumed": 300, "resumed": 2, "partitions": 3}


def test_kafkajs_over_tls_with_sasl(fresh_broker, topic_name, certificate):
    cert, key = certificate
    users, password = host_class().sasl_user("alice", "alice-s3cret")
    b = fresh_broker({"kopSslCertificateFile": str(cert), "kopSslKeyFile": str(key), **users}, scheme="SASL_SSL")
    done = subprocess.run(["node", str(SCRIPT.parent / "secure.js"), b.bootstrap, topic_name, str(cert), "alice",
                           password], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"kafkajs failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"consumed": 10, "refused": "KafkaJSSASLAuthenticationError"}


def test_kafkajs_transactions(broker, topic_name):
    done = subprocess.run(["node", str(SCRIPT.parent / "transactions.js"), broker.bootstrap, topic_name],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"kafkajs failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"committed": ["c0", "c1", "c2", "from-x0", "from-x1"], "inputOffset": "2"}
