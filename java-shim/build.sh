#!/usr/bin/env bash
# Builds the Pulsar protocol handler NAR: the release cdylib plus the shim classes, compiled by Maven
# against the real org.apache.pulsar:pulsar-broker jars (`provided`: nothing of Pulsar, BookKeeper or
# Netty goes into the NAR). Output: java-shim/build/kop-<version>.nar, and a copy as kop.nar.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
BUILD=build
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)

(cd "$ROOT" && cargo build --release --quiet --lib)
mvn -B -q -s .mvn/settings.xml compile
rm -rf "$BUILD"
mkdir -p "$BUILD/stage/META-INF/bundled-dependencies/native"
cp -r target/classes/. "$BUILD/stage/"
cp "$ROOT/target/release/libkop.so" "$BUILD/stage/META-INF/bundled-dependencies/native/libkop.so"
# The release profile keeps line tables for profiling kop serve; the broker's copy needs none.
strip --strip-debug "$BUILD/stage/META-INF/bundled-dependencies/native/libkop.so"
jar --create --file "$BUILD/kop-$VERSION.nar" -C "$BUILD/stage" .
cp "$BUILD/kop-$VERSION.nar" "$BUILD/kop.nar"
echo "built $BUILD/kop-$VERSION.nar"
