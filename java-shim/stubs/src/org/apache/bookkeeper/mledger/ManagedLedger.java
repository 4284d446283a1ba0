package org.apache.bookkeeper.mledger;

import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.apache.bookkeeper.mledger.intercept.ManagedLedgerInterceptor;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/ManagedLedger.java). */
public interface ManagedLedger {
    String getName();

    ManagedCursor newNonDurableCursor(Position startCursorPosition, String subscriptionName)
            throws ManagedLedgerException;

    void asyncDeleteCursor(String name, AsyncCallbacks.DeleteCursorCallback callback, Object ctx);

    long getNumberOfEntries();

    Position getLastConfirmedEntry();

    Position getFirstPosition();

    void asyncReadEntry(Position position, AsyncCallbacks.ReadEntryCallback callback, Object ctx);

    Position getNextValidPosition(Position position);

    Position getPreviousPosition(Position position);

    CompletableFuture<Position> asyncFindPosition(Predicate<Entry> predicate);

    ManagedLedgerInterceptor getManagedLedgerInterceptor();

    boolean isTerminated();
}
