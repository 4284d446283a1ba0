"""sarama, the Go Kafka client (Debian's 1.22, its own protocol code), through `sarama/main.go`:
cluster admin, a snappy producer with acks=all, and a consumer group that commits and resumes.
Built with Debian's Go and sarama packages, offline (GOPATH mode)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent / "sarama"
GOPATH = "/usr/share/gocode"


@pytest.fixture(scope="session")
def sarama_roundtrip(tmp_path_factory):
    if not Path(GOPATH, "src/github.com/Shopify/sarama").exists():
        pytest.fail("sarama is not installed: apt-get install golang-go golang-github-shopify-sarama-dev")
    out = tmp_path_factory.mktemp("sarama") / "sarama-roundtrip"
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=str(out.parent / "cache"))
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=SOURCE, env=env, check=True, capture_output=True,
                   timeout=300)
    return out


def test_sarama_round_trip(broker, topic_name, sarama_roundtrip):
    done = subprocess.run([str(sarama_roundtrip), broker.bootstrap, topic_name], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"sarama failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"consumed": 200, "resumed": 2, "partitions_used": 3}
