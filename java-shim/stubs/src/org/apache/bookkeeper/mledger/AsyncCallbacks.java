package org.apache.bookkeeper.mledger;

import io.netty.buffer.ByteBuf;
import java.util.List;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/AsyncCallbacks.java). */
public interface AsyncCallbacks {
    interface AddEntryCallback {
        void addComplete(Position position, ByteBuf entryData, Object ctx);

        void addFailed(ManagedLedgerException exception, Object ctx);
    }

    interface ReadEntriesCallback {
        void readEntriesComplete(List<Entry> entries, Object ctx);

        void readEntriesFailed(ManagedLedgerException exception, Object ctx);
    }

    interface ReadEntryCallback {
        void readEntryComplete(Entry entry, Object ctx);

        void readEntryFailed(ManagedLedgerException exception, Object ctx);
    }

    interface DeleteCursorCallback {
        // source: managed-ledger/src/main/java/org/apache/bookkeeper/mledger/AsyncCallbacks.java
        void deleteCursorComplete(Object ctx);

        // source: managed-ledger/src/main/java/org/apache/bookkeeper/mledger/AsyncCallbacks.java
        void deleteCursorFailed(ManagedLedgerException exception, Object ctx);
    }
}
