#!/usr/bin/env bash
# The fuzz regression check: builds every cargo-fuzz target and runs each for a fixed time
# (KOP_FUZZ_SECONDS, 20 by default) from its committed seeds; a crash, a panic, an allocation
# over the malloc limit or a timeout fails it, and libFuzzer leaves the input in
# fuzz/artifacts/<target>/.
#
#   fuzz/check.sh            the regression check (scripts/test runs it)
#   fuzz/check.sh --merge    folds fuzz/raw-seeds/<target> (fuzz/seeds.py) into fuzz/seeds/<target>,
#                            keeping only inputs that add coverage
#
# On the stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its flags, and no sanitizer is
# needed for safe Rust, whose failures (panics, aborts, runaway allocations) libFuzzer sees.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked --quiet cargo-fuzz --version 0.13.2
fi
cargo fuzz build -s none
targets=$(cargo fuzz list)
if [ "${1:-}" = "--merge" ]; then
    for target in $targets; do
        mkdir -p "seeds/$target" "raw-seeds/$target"
        cargo fuzz run -s none "$target" "seeds/$target" "raw-seeds/$target" -- -merge=1 -malloc_limit_mb=512
    done
    exit 0
fi
seconds=${KOP_FUZZ_SECONDS:-20}
for target in $targets; do
    work=$(mktemp -d)
    echo "== fuzz $target for ${seconds}s"
    # New inputs go to the scratch directory (the first); the committed seeds stay as they are.
    status=0
    cargo fuzz run -s none "$target" "$work" "seeds/$target" -- \
        -max_total_time="$seconds" -malloc_limit_mb=512 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$work.log" 2>&1 || status=$?
    grep -E "^stat::number_of_executed_units" "$work.log" || true
    if [ "$status" != 0 ]; then
        tail -40 "$work.log"
        echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/"
        exit 1
    fi
    rm -rf "$work" "$work.log"
done
