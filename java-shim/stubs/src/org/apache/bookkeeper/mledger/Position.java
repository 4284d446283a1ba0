package org.apache.bookkeeper.mledger;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/Position.java). */
public interface Position {
    long getLedgerId();

    long getEntryId();

    Position getNext();
}
