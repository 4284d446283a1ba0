package org.apache.bookkeeper.mledger;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/PositionFactory.java). */
public final class PositionFactory {
    public static final Position EARLIEST = null;
    public static final Position LATEST = null;

    private PositionFactory() {
    }

    public static Position create(long ledgerId, long entryId) {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
