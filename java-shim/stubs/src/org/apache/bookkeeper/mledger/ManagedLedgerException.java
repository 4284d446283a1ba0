package org.apache.bookkeeper.mledger;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/ManagedLedgerException.java). */
public class ManagedLedgerException extends Exception {
    private static final long serialVersionUID = 1L;

    // source: managed-ledger/src/main/java/org/apache/bookkeeper/mledger/ManagedLedgerException.java
    public ManagedLedgerException(String msg) {
        super(msg);
    }
}
