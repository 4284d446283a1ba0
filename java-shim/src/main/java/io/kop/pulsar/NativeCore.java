package io.kop.pulsar;

/**
 * The native kop core. {@code libkop.so} ships in the NAR under
 * {@code META-INF/bundled-dependencies/native/}, where Pulsar's NAR class loader finds it.
 */
final class NativeCore {
    private static boolean loaded;

    private NativeCore() {
    }

    static synchronized void load() {
        if (!loaded) {
            System.loadLibrary("kop");
            loaded = true;
        }
    }

    /** Starts the core with a TOML configuration; returns a handle for {@link #stop}. */
    static native long start(String configToml);

    /** Stops the core: stops accepting, drains in-flight requests, flushes and frees everything. */
    static native void stop(long handle);
}
