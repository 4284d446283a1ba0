#!/usr/bin/env bash
# Builds the Pulsar protocol handler NAR (release cdylib + shim classes), the compile-only Pulsar API
# stubs and the test-only stand-in broker. No Maven: javac and jar only. Netty comes from Debian's
# libnetty-java. Output: java-shim/build/kop-<version>.nar (and stubs/stand-in jars for tests).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
BUILD=build
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
NETTY=/usr/share/java
CP_NETTY="$NETTY/netty-buffer.jar:$NETTY/netty-common.jar:$NETTY/netty-transport.jar"
for jar in netty-buffer netty-common netty-transport; do
    [ -f "$NETTY/$jar.jar" ] || { echo "missing $NETTY/$jar.jar: apt-get install libnetty-java" >&2; exit 1; }
done

(cd "$ROOT" && cargo build --release --quiet --lib)
rm -rf "$BUILD"
mkdir -p "$BUILD/stubs" "$BUILD/shim" "$BUILD/standin" "$BUILD/stage/META-INF/bundled-dependencies/native"

javac -nowarn -d "$BUILD/stubs" -cp "$CP_NETTY" $(find stubs/src -name '*.java')
jar --create --file "$BUILD/pulsar-api-stubs.jar" -C "$BUILD/stubs" .

javac -Xlint:all -Werror -d "$BUILD/shim" -cp "$BUILD/pulsar-api-stubs.jar:$CP_NETTY" $(find src/main/java -name '*.java')
cp -r "$BUILD/shim/." "$BUILD/stage/"
cp -r src/main/resources/. "$BUILD/stage/"
cp "$ROOT/target/release/libkop.so" "$BUILD/stage/META-INF/bundled-dependencies/native/libkop.so"
jar --create --file "$BUILD/kop-$VERSION.nar" -C "$BUILD/stage" .
cp "$BUILD/kop-$VERSION.nar" "$BUILD/kop.nar"

javac -Xlint:all -Werror -d "$BUILD/standin" -cp "$BUILD/pulsar-api-stubs.jar:$CP_NETTY" $(find standin/src -name '*.java')
jar --create --file "$BUILD/standin.jar" -C "$BUILD/standin" .
echo "built $BUILD/kop-$VERSION.nar"
