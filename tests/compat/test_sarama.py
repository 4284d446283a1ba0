"""sarama, the Go Kafka client with its own protocol code (github.com/IBM/sarama, built by
scripts/test from tests/compat/go/sarama): cluster admin with topic configs, an idempotent snappy
producer with acks=all, and a consumer group that commits and resumes. sarama picks each API's
version from the Kafka version it is told, not from ApiVersions, so it runs twice: as Kafka 2.1
(the old versions Debian's sarama 1.22 used to cover) and as the newest Kafka it knows."""

import json
import subprocess
from pathlib import Path

import pytest

SARAMA = Path(__file__).resolve().parent / "go" / "target" / "sarama"


@pytest.mark.parametrize("version", ["2.1.0", "4.3.1"])
def test_sarama_round_trip(broker, topic_name, version):
    if not SARAMA.exists():
        pytest.fail(f"{SARAMA} is missing: scripts/test builds it (go build in {SARAMA.parent.parent})")
    done = subprocess.run([str(SARAMA), broker.bootstrap, topic_name, version], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"sarama failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"consumed": 200, "resumed": 2, "partitions_used": 3, "config_read": 1}
