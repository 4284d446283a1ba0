import subprocess
import uuid

import pytest

from brokers import HOST, make_broker

# Kafka's 3 s initial rebalance delay only slows tests down; keep a short one so its path still runs.
GROUP_TEST_CONFIG = {"groupInitialRebalanceDelayMs": 300}


def pytest_report_header(config):
    return f"kop host under test: {HOST}"


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """One broker shared by the tests that need no special config or restarts."""
    b = make_broker(tmp_path_factory.mktemp("shared-broker"), GROUP_TEST_CONFIG).start()
    yield b
    code = b.stop()
    assert code in b.clean_exit_codes, f"{b.name} did not shut down cleanly ({code}):\n{b.log()}"
    assert b.stopped_line in b.logged(), f"{b.name} did not drain and flush:\n{b.log()}"


@pytest.fixture
def fresh_broker(tmp_path):
    """A broker of the test's own, for config variants, crashes and restarts."""
    started = []

    def start(config=None, scheme="PLAINTEXT", **options):
        b = make_broker(tmp_path / f"broker{len(started)}", {**GROUP_TEST_CONFIG, **(config or {})}, scheme,
                        **options).start()
        started.append(b)
        return b

    yield start
    for b in started:
        if b.alive():
            b.stop()


@pytest.fixture
def topic_name():
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key
