#!/usr/bin/env python3
"""Measures brokers side by side in one run with the same client (kop-bench, librdkafka) and prints
the rows of docs/performance.md's peer tables.

    bench/peers.py --hosts standalone,kafka [--quick] [--sustained-gb 10] [--sustained-only]
    KOP_JAVA_NAR=... bench/peers.py --hosts pulsar,kop-java
    bench/peers.py --hosts '' --broker mine=10.0.0.5:9092 --broker local=127.0.0.1:9092@4242

Hosts are the compat suite's (tests/compat): `standalone` (`kop serve`, on disk), `kafka` (Apache
Kafka 4.x, KRaft, on disk), `pulsar` (kop's NAR in Apache Pulsar standalone) and `kop-java`
(StreamNative's KoP in its Pulsar standalone). All run at once with their default settings; the rows
take turns between them, so a slow minute of the machine falls on every broker alike. `--broker
label=host:port[@pid]` adds a broker already running (its CPU is read when its pid is given, and
it is neither pinned nor stopped).

Per row and broker: produce and consume MB/s flat out, produce latency percentiles, and the broker's
CPU seconds (user + system, from /proc) per GB produced and consumed. Latency rows offer a fixed rate
below every broker's saturation, where percentiles mean something. On a machine of two cores the
brokers are pinned to core 0 and the client to core 1 (`--no-pin` turns that off), so the client
does not take the broker's CPU. A sustained row produces `--sustained-gb` to each broker and gives
its rate as a fraction of the disk's own rate (`dd ... conv=fdatasync`), measured in the same run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "compat"))

BENCH = ROOT / "bench" / "target" / "release" / "kop-bench"
BROKER_CORE, CLIENT_CORE = "0", "1"


def host(name, workdir):
    import brokers
    if name == "standalone":
        return brokers.StandaloneBroker(workdir, {})
    if name == "pulsar":
        return brokers.PulsarBroker(workdir, {})
    if name == "kafka":
        from apache_kafka import KafkaBroker
        return KafkaBroker(workdir, {})
    if name == "kop-java":
        from kop_java import KopJavaBroker
        return KopJavaBroker(workdir, {})
    raise SystemExit(f"unknown host {name}")


class Running:
    """A broker started elsewhere: its bootstrap address and, if known, its process id."""

    def __init__(self, spec):
        label, _, address = spec.partition("=")
        self.label = label
        self.bootstrap, _, pid = address.partition("@")
        self.pid = int(pid) if pid else None

    def alive(self):
        return False  # never stopped here


def pid_of(broker):
    return broker.pid if isinstance(broker, Running) else broker.proc.pid


def pin(pid, core):
    """Pins every thread of `pid`, and those it starts later, to `core`."""
    subprocess.run(["taskset", "-a", "-p", "-c", core, str(pid)], check=True, capture_output=True)


def run(label, broker, partitions, size, messages, rate=0, produce_only=False, pinned=True):
    args = [str(BENCH), "--label", label, "--bootstrap", broker.bootstrap, "--topic",
            f"bench-{label}-{partitions}p-{size}b-{uuid.uuid4().hex[:6]}", "--partitions", str(partitions),
            "--message-size", str(size), "--messages", str(messages), "--acks", "all",
            "--json"]
    if pid_of(broker):
        args += ["--broker-pid", str(pid_of(broker))]
    if rate:
        args += ["--rate", str(rate)]
    if produce_only:
        args.append("--produce-only")
    if pinned:
        args = ["taskset", "-c", CLIENT_CORE, *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def disk_rate_mb_s(directory, mb=2048):
    """The disk's sequential write rate, flushed, in the brokers' file system."""
    path = Path(directory) / "dd.bin"
    done = subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mb}", "conv=fdatasync"],
                          capture_output=True, text=True)
    path.unlink(missing_ok=True)
    # dd's last line: "... bytes (...) copied, 11.2 s, 191 MB/s"
    seconds = float(done.stderr.strip().splitlines()[-1].split(",")[-2].split()[0])
    return mb * 1.048576 / seconds


def fmt(r, *keys):
    """The figures `keys` of one run, "a / b / c", or why it failed."""
    if "error" in r:
        return "failed: " + " ".join(r["error"])
    return " / ".join("-" if r[k] is None else f"{r[k]:.1f}" for k in keys)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="standalone,kafka")
    parser.add_argument("--broker", action="append", default=[], help="label=host:port[@pid], already running")
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages (to try the command)")
    parser.add_argument("--sustained-gb", type=float, default=0)
    parser.add_argument("--sustained-only", action="store_true", help="skip the flat-out and fixed-rate rows")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--workdir", help="where the brokers keep their data (default: a temporary directory)")
    opts = parser.parse_args()
    # Each row as soon as it is measured: a full run takes many minutes.
    sys.stdout.reconfigure(line_buffering=True)
    if not BENCH.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT / "bench", check=True)
    pinned = not opts.no_pin and os.cpu_count() and os.cpu_count() >= 2
    scale = 0.1 if opts.quick else 1.0
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="kop-peers-"))
    names = [n for n in opts.hosts.split(",") if n]
    started = {}
    try:
        for name in names:
            broker = host(name, work / name)
            broker.start()
            if pinned:
                pin(pid_of(broker), BROKER_CORE)
            started[name] = broker
        for spec in opts.broker:
            running = Running(spec)
            started[running.label] = running
            names.append(running.label)
        time.sleep(5)  # the Pulsar hosts open their system topics just after they answer
        # Unreported warm-up: the JVM brokers compile their hot paths in the first seconds.
        for name, b in started.items():
            run(f"warmup-{name}", b, 8, 1024, int(200_000 * scale), pinned=pinned)
        print(f"date: {time.strftime('%Y-%m-%d')}; cpu: {os.cpu_count()} cores; "
              f"{'brokers on core 0, client on core 1' if pinned else 'not pinned'}")
        print("\n| row | " + " | ".join(names) + " |\n| --- |" + " --- |" * len(names))
        flat = [(1, 1024, 200_000), (8, 1024, 200_000), (1, 100, 1_000_000), (8, 100, 1_000_000)]
        fixed = [(1, 1024, 5_000, 30), (8, 100, 20_000, 30)]
        if opts.sustained_only:
            flat, fixed = [], []
        for parts, size, n in flat:
            n = int(n * scale)
            results = {name: run(name, b, parts, size, n, pinned=pinned) for name, b in started.items()}
            for metric, keys, unit in [("produce", ["produce_mb_s"], "MB/s"), ("consume", ["consume_mb_s"], "MB/s"),
                                       ("broker CPU produced", ["cpu_s_per_gb_produced"], "s/GB"),
                                       ("broker CPU consumed", ["cpu_s_per_gb_consumed"], "s/GB")]:
                print(f"| {size} B x {n}, {parts} partition(s): {metric} ({unit}) | "
                      + " | ".join(fmt(results[name], *keys) for name in names) + " |")
        # Fixed offered rates, below what every broker here sustains flat out.
        for parts, size, rate, seconds in fixed:
            n = int(rate * seconds * scale)
            results = {name: run(name, b, parts, size, n, rate=rate, produce_only=True, pinned=pinned)
                       for name, b in started.items()}
            print(f"| {size} B at {rate} msg/s, {parts} partition(s): produce latency p50 / p99 / p999 (ms) | "
                  + " | ".join(fmt(results[name], "p50_ms", "p99_ms", "p999_ms") for name in names) + " |")
            print(f"| {size} B at {rate} msg/s, {parts} partition(s): broker CPU (s/GB) | "
                  + " | ".join(fmt(results[name], "cpu_s_per_gb_produced") for name in names) + " |")
        if opts.sustained_gb:
            disk = disk_rate_mb_s(work)
            n = int(opts.sustained_gb * 1e9 / 1024)
            print(f"\nsustained: {opts.sustained_gb:g} GB of 1 KiB records over 8 partitions to each broker; "
                  f"disk (dd 2 GiB, conv=fdatasync): {disk:.0f} MB/s")
            for name, b in started.items():
                r = run(name, b, 8, 1024, n, produce_only=True, pinned=pinned)
                if "error" in r:
                    print(f"| sustained | {name} | failed: {' '.join(r['error'])} |")
                else:
                    print(f"| sustained | {name} | {r['produce_mb_s']:.0f} MB/s | {r['produce_mb_s'] / disk:.2f} of "
                          f"the disk | p99 {r['p99_ms']:.0f} ms | {fmt(r, 'cpu_s_per_gb_produced')} s/GB |")
                # Each broker's data goes before the next one writes, so the disk is as full for each.
                if not isinstance(b, Running):
                    b.stop()
                    shutil.rmtree(b.workdir, ignore_errors=True)
    finally:
        for b in started.values():
            if b.alive():
                b.stop_quietly()
        if not opts.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
