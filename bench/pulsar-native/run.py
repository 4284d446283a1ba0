#!/usr/bin/env python3
"""kop's NAR (Kafka clients, kop-bench) beside Pulsar's own Java client (PulsarProduce.java) on one
Apache Pulsar standalone broker and its bookie: whether the protocol handler or the storage under
it sets the rate: each writes 200,000 x 1 KiB and reads them back. The broker is pinned to core 0,
the clients to core 1; two rounds, 1 and 8 partitions. Broker CPU is per GB moved (written plus
read). Needs scripts/setup's class paths and a release build.

    .venv/bin/python bench/pulsar-native/run.py
"""
import json, subprocess, sys, time, tempfile, urllib.request
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "compat")); sys.path.insert(0, str(ROOT / "bench"))
import brokers
work = Path(tempfile.mkdtemp(prefix="pulsar-native-"))
CP = (ROOT / "tests/pulsar/target/classpath.txt").read_text().strip()
subprocess.run(["javac", "-cp", CP, "-d", str(work / "classes"), str(Path(__file__).parent / "PulsarProduce.java")], check=True)
CP += ":" + str(work / "classes")
b = brokers.PulsarBroker(work / "pulsar", {})
b.start()
subprocess.run(["taskset", "-a", "-p", "-c", "0", str(b.proc.pid)], check=True, capture_output=True)
time.sleep(5)
def cpu(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100
try:
    for rnd in (1, 2):
        for parts in (1, 8):
            n, size = 200_000, 1024
            t = f"kop-{rnd}-{parts}"
            c0 = cpu(b.proc.pid)
            out = subprocess.run(["taskset", "-c", "1", str(ROOT / "bench/target/release/kop-bench"), "--bootstrap", b.bootstrap,
                                  "--topic", t, "--partitions", str(parts), "--message-size", str(size), "--messages", str(n),
                                  "--json"], capture_output=True, text=True, timeout=600)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            c1 = cpu(b.proc.pid)
            print(f"round {rnd} {parts} partition(s): kop (Kafka client) produce {r['produce_mb_s']:.1f} MB/s, "
                  f"consume {r['consume_mb_s']:.1f} MB/s, broker CPU {(c1-c0)/(2*n*size/1e9):.1f} s/GB moved", flush=True)
            t = f"native-{rnd}-{parts}"
            req = urllib.request.Request(f"http://127.0.0.1:{b.ports['web']}/admin/v2/persistent/public/default/{t}/partitions",
                                         data=str(parts).encode(), method="PUT", headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req).read()
            c0 = cpu(b.proc.pid)
            out = subprocess.run(["taskset", "-c", "1", "java", "-Xmx1g", "-cp", CP, "PulsarProduce", b.pulsar_url,
                                  f"persistent://public/default/{t}", str(size), str(n)], capture_output=True, text=True, timeout=600)
            c1 = cpu(b.proc.pid)
            lines = [l for l in out.stdout.splitlines() if l.startswith("pulsar-")]
            print(f"round {rnd} {parts} partition(s): {'; '.join(lines) if lines else out.stderr[-500:]}, "
                  f"broker CPU {(c1-c0)/(2*n*size/1e9):.1f} s/GB moved", flush=True)
finally:
    b.stop()
