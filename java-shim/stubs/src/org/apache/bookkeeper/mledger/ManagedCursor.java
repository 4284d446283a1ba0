package org.apache.bookkeeper.mledger;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/ManagedCursor.java). */
public interface ManagedCursor {
    String getName();

    void asyncReadEntries(int numberOfEntriesToRead, long maxSizeBytes, AsyncCallbacks.ReadEntriesCallback callback,
            Object ctx, Position maxPosition);

    Position getReadPosition();

    ManagedLedger getManagedLedger();
}
