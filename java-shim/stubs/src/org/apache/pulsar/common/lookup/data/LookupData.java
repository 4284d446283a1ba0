package org.apache.pulsar.common.lookup.data;

/**
 * Compile-only stub of the owner broker's addresses
 * (pulsar-common/src/main/java/org/apache/pulsar/common/lookup/data/LookupData.java).
 */
public class LookupData {
    public String getBrokerUrl() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getBrokerUrlTls() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getHttpUrl() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
