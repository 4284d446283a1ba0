package org.apache.bookkeeper.mledger.intercept;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/intercept/ManagedLedgerInterceptor.java). */
public interface ManagedLedgerInterceptor {
}
