package org.apache.pulsar.broker.lookup;

import org.apache.pulsar.common.lookup.data.LookupData;

/**
 * Compile-only stub of a topic lookup's answer
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/lookup/LookupResult.java).
 */
public class LookupResult {
    public boolean isBrokerUrl() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public boolean isRedirect() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public LookupData getLookupData() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
