package io.kop.pulsar;

/**
 * The native kop core. {@code libkop.so} ships in the NAR under
 * {@code META-INF/bundled-dependencies/native/}, where Pulsar's NAR class loader finds it.
 *
 * <p>Rust calls {@link PulsarBridge} methods, which return at once; each carries a call id that
 * the bridge completes later through exactly one of the {@code complete*} or {@code fail} methods.
 */
final class NativeCore {
    /** Failure kinds understood by the core. */
    static final int STORAGE = 0;
    static final int NOT_OWNER = 1;
    static final int UNKNOWN_TOPIC = 2;
    static final int TOPIC_EXISTS = 3;
    static final int INVALID = 4;
    static final int TOO_LARGE = 5;
    static final int TERMINATED = 6;

    /** Fields {@link #entryField} reads from a stored entry's head. */
    static final int LAST_OFFSET = 0;
    static final int MAX_TIMESTAMP = 1;

    private static boolean loaded;

    private NativeCore() {
    }

    static synchronized void load() {
        if (!loaded) {
            System.loadLibrary("kop");
            loaded = true;
        }
    }

    /** Starts the core over {@code bridge}; returns a handle for {@link #stop}. */
    static native long start(String configToml, PulsarBridge bridge);

    /** Stops the core: stops accepting, drains in-flight requests and frees everything. */
    static native void stop(long handle);

    static native void completeDone(long call);

    static native void completeTopics(long call, String[] names, int[] partitions, String[] configs);

    static native void completeOpen(long call, long lastIndex, byte[] firstHead, byte[] lastHead, byte[] snapshot);

    static native void completeAppend(long call, long ledgerId, long entryId, byte[] head);

    /** Part kinds in {@link #completeRead}'s layout. */
    static final int DIRECT_PART = 0;
    static final int ARRAY_PART = 1;

    /**
     * Entry {@code i} is the next {@code partCounts[i]} parts. Part {@code j} is {@code parts[j]},
     * a direct ByteBuffer or a byte[], described by {@code layout[3j..3j+3]}: kind, offset, length.
     * A negative next ledger id means unknown.
     */
    static native void completeRead(long call, long[] ledgerIds, long[] entryIds, int[] partCounts, Object[] parts,
            int[] layout, long nextLedgerId, long nextEntryId);

    static native void completePosition(long call, long ledgerId, long entryId);

    static native void completeOwner(long call, boolean local, String url);

    static native void completePrincipal(long call, String role);

    static native void fail(long call, int kind, String message);

    /** Reads a field of a stored entry from its first bytes; -1 if they are not a kop entry. */
    static native long entryField(byte[] head, int field);
}
