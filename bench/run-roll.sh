#!/usr/bin/env bash
# Produce latency on one partition while another partition rolls segments, for two builds of
# `kop serve` in one run: by default the last commit that still did disk work on the async
# runtime (383a4e0) and the working tree. A "quiet" producer offers 1 KiB records to its own
# partition at a fixed rate (below saturation, linger 0, acks=all) and reports its latency; a
# "roller" producer fills a topic with 1 MiB segments at a fixed rate, so the broker rolls (and
# syncs, and writes an index for) about 40 segments a second beside it. Each build is measured
# alone and with the roller, two rounds, alternating builds.
#
#   bench/run-roll.sh [before-commit] [quiet-seconds]     (KOP_BEFORE_BIN=path skips building it)
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:-383a4e0}
SECONDS_QUIET=${2:-20}
QUIET_RATE=1000
ROLL_RATE=40000
WORK=$(mktemp -d -p "${KOP_BENCH_DIR:-/tmp}")
trap 'kill $(jobs -p) 2>/dev/null || true; git worktree remove --force "$WORK/before" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
(cd bench && cargo build --release --quiet)
BENCH=bench/target/release/kop-bench
if [ -n "${KOP_BEFORE_BIN:-}" ]; then  # a build of the before commit made earlier
    declare -A KOP=([before]="$KOP_BEFORE_BIN" [after]=target/release/kop)
else
    git worktree add --quiet --detach "$WORK/before" "$BEFORE"
    (cd "$WORK/before" && CARGO_TARGET_DIR="$WORK/before-target" cargo build --release --quiet)
    declare -A KOP=([before]="$WORK/before-target/release/kop" [after]=target/release/kop)
fi

echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); before = $BEFORE, after = $(git rev-parse --short HEAD) + working tree"
measure() { # build with-roller(yes|no)
    local build=$1 roller=$2 data="$WORK/data-$RANDOM"
    "${KOP[$build]}" serve --listen 127.0.0.1:19192 --data-dir "$data" >"$WORK/kop.log" 2>&1 &
    local kop=$! rolling=
    sleep 2
    if [ "$roller" = yes ]; then
        "$BENCH" --label "$build roller" --bootstrap 127.0.0.1:19192 --topic "roll-$RANDOM" \
            --topic-config segment.bytes=1048576 --rate $ROLL_RATE --messages $((ROLL_RATE * (SECONDS_QUIET + 4))) \
            --produce-only --acks 1 >"$WORK/roller.out" &
        rolling=$!
        sleep 2
    fi
    "$BENCH" --label "$build, roller $roller, quiet" --bootstrap 127.0.0.1:19192 --topic "quiet-$RANDOM" \
        --rate $QUIET_RATE --messages $((QUIET_RATE * SECONDS_QUIET)) --linger-ms 0 --produce-only
    if [ -n "$rolling" ]; then
        wait $rolling
        cat "$WORK/roller.out"
    fi
    echo "  roller segments: $(find "$data" -path '*roll-*' -name '*.log' | wc -l)"
    kill $kop
    wait $kop 2>/dev/null || true
    rm -rf "$data"
}
for round in 1 2; do
    for build in before after; do
        measure $build no
        measure $build yes
    done
done
