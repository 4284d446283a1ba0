#!/usr/bin/env bash
# Measures the cost of TLS: `kop serve` on a plaintext listener and on an SSL listener (a fresh
# self-signed EC P-256 certificate), same machine, same client, one run. Prints report lines for
# docs/performance.md.
#
#   bench/run-tls.sh [messages-1KiB] [messages-100B]
set -euo pipefail
cd "$(dirname "$0")/.."
N1K=${1:-200000}
N100=${2:-500000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
(cd bench && cargo build --release --quiet)
BENCH=bench/target/release/kop-bench
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
printf 'kopSslCertificateFile = "%s"\nkopSslKeyFile = "%s"\n' "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/tls.toml"

target/release/kop serve --listen 127.0.0.1:19092 --data-dir "$WORK/plain" >"$WORK/plain.log" 2>&1 &
target/release/kop serve --listen SSL://127.0.0.1:19093 --data-dir "$WORK/tls" --config "$WORK/tls.toml" \
    >"$WORK/tls.log" 2>&1 &
sleep 2
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run() { # label partitions size messages [client settings...]
    local label=$1 parts=$2 size=$3 n=$4
    shift 4
    "$BENCH" --label "$label" --topic "bench-$label-$parts-$size-$RANDOM" --partitions "$parts" \
        --message-size "$size" --messages "$n" --acks all "$@"
}
for parts in 1 8; do
    run plaintext $parts 1024 "$N1K" --bootstrap 127.0.0.1:19092
    run tls $parts 1024 "$N1K" --bootstrap 127.0.0.1:19093 -X security.protocol=SSL -X "ssl.ca.location=$WORK/cert.pem"
    run plaintext $parts 100 "$N100" --bootstrap 127.0.0.1:19092
    run tls $parts 100 "$N100" --bootstrap 127.0.0.1:19093 -X security.protocol=SSL -X "ssl.ca.location=$WORK/cert.pem"
done
