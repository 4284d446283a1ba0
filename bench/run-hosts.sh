#!/usr/bin/env bash
# Measures the Pulsar host (the NAR inside a real Apache Pulsar standalone broker, data through JNI
# into BookKeeper) against the embedded host (`kop serve`, writing to disk) with the same client in
# one run, and prints report lines for docs/performance.md. Needs the Pulsar class path that
# scripts/test resolves (tests/pulsar/target/classpath.txt).
#
#   bench/run-hosts.sh [messages-1KiB] [messages-100B]
set -euo pipefail
cd "$(dirname "$0")/.."
N1K=${1:-200000}
N100=${2:-500000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
java-shim/build.sh >/dev/null
(cd bench && cargo build --release --quiet)
BENCH=bench/target/release/kop-bench

target/release/kop serve --listen 127.0.0.1:19092 --data-dir "$WORK/kop-data" >"$WORK/kop.log" 2>&1 &
python3 tests/compat/pulsar.py "$WORK/pulsar" 19094 >"$WORK/pulsar.log" 2>&1 &
until grep -q "healthy" "$WORK/pulsar.log"; do sleep 1; done
sleep 5  # kop opens its topics once the broker is healthy; clients wait in the backlog meanwhile
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run() { # label bootstrap partitions size messages
    "$BENCH" --label "$1" --bootstrap "$2" --topic "bench-$1-$3p-$4b-$RANDOM" --partitions "$3" \
        --message-size "$4" --messages "$5" --acks all
}
for parts in 1 8; do
    run embedded 127.0.0.1:19092 $parts 1024 "$N1K"
    run pulsar-jni 127.0.0.1:19094 $parts 1024 "$N1K"
    run embedded 127.0.0.1:19092 $parts 100 "$N100"
    run pulsar-jni 127.0.0.1:19094 $parts 100 "$N100"
done
