"""Apache Kafka's command-line tools, run from the classpath scripts/test resolves (tests/kafka)."""

import subprocess
from pathlib import Path

import pytest

CLASSPATH = Path(__file__).resolve().parent.parent / "kafka" / "target" / "classpath.txt"
TOOLS = "org.apache.kafka.tools."
GROUPS = TOOLS + "consumer.group.ConsumerGroupCommand"


def tool(main, *args, stdin=None, timeout=120, ok=True):
    """Runs a tool's main class; returns its output without the logging noise."""
    if not CLASSPATH.exists():
        pytest.fail(f"{CLASSPATH} is missing: scripts/test resolves it (mvn dependency:build-classpath in tests/kafka)")
    done = subprocess.run(["java", "-cp", CLASSPATH.read_text().strip(), main, *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=timeout)
    out = "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                    if not line.startswith(("SLF4J", "WARN", "log4j")) and "StatusLogger" not in line)
    if ok:
        assert done.returncode == 0, f"{main} {' '.join(map(str, args))} failed ({done.returncode}):\n{out}"
    return out
