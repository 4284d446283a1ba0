package org.apache.pulsar.broker.intercept;

import org.apache.bookkeeper.mledger.intercept.ManagedLedgerInterceptor;

/** Compile-only stub (pulsar-broker/src/main/java/org/apache/pulsar/broker/intercept/ManagedLedgerInterceptorImpl.java). */
public class ManagedLedgerInterceptorImpl implements ManagedLedgerInterceptor {
    public long getIndex() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
