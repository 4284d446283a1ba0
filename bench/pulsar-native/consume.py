#!/usr/bin/env python3
"""Reading one partition through kop's NAR: each NAR given runs in its own fresh Apache Pulsar
standalone (pinned to core 0), in the order given, and `kop-bench` (librdkafka, core 1) writes
200,000 x 1 KiB to a new one-partition topic and reads them back, four rounds per NAR (round 0
warms the JVM up). Prints consume MB/s and broker CPU per GB consumed per round. `--fetch-bytes N`
sets the client's per-partition fetch size (librdkafka's default is 1 MiB). Needs scripts/setup's
class paths and `bench/` built in release.

    .venv/bin/python bench/pulsar-native/consume.py OLD.nar NEW.nar OLD.nar NEW.nar
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "compat"))
import brokers  # noqa: E402
import pulsar  # noqa: E402

BENCH = ROOT / "bench" / "target" / "release" / "kop-bench"


def rounds(nar, fetch_bytes):
    pulsar.PulsarProcess.nar = Path(nar)
    broker = brokers.PulsarBroker(Path(tempfile.mkdtemp(prefix="pulsar-consume-")), {})
    broker.start()
    try:
        # A thread that ends while taskset walks the JVM's threads fails the call; the next try pins the rest.
        for _ in range(5):
            if subprocess.run(["taskset", "-a", "-p", "-c", "0", str(broker.proc.pid)], capture_output=True).returncode == 0:
                break
        extra = []
        if fetch_bytes:
            extra = ["-X", f"max.partition.fetch.bytes={fetch_bytes}", "-X", f"fetch.max.bytes={max(fetch_bytes, 52428800)}"]
        for n in range(4):
            out = subprocess.run(["taskset", "-c", "1", str(BENCH), "--bootstrap", broker.bootstrap, "--topic", f"consume-{n}",
                                  "--messages", "200000", "--json", "--broker-pid", str(broker.proc.pid)] + extra,
                                 capture_output=True, text=True, timeout=600, check=True)
            yield n, json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        broker.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("nars", nargs="+")
    parser.add_argument("--fetch-bytes", type=int, default=0)
    args = parser.parse_args()
    print("| NAR | round | produce MB/s | consume MB/s | broker CPU s/GB consumed |")
    print("| --- | --- | --- | --- | --- |")
    for nar in args.nars:
        for n, r in rounds(nar, args.fetch_bytes):
            print(f"| {nar} | {n} | {r['produce_mb_s']:.1f} | {r['consume_mb_s']:.1f} | {r['cpu_s_per_gb_consumed']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
