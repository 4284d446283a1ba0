package org.apache.pulsar.broker.namespace;

/**
 * Compile-only stub of the lookup options and their Lombok builder
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/namespace/LookupOptions.java).
 */
public class LookupOptions {
    public static LookupOptionsBuilder builder() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    /** Lombok's generated builder. */
    public static class LookupOptionsBuilder {
        public LookupOptionsBuilder authoritative(boolean authoritative) {
            throw new UnsupportedOperationException("compile-only stub");
        }

        public LookupOptionsBuilder readOnly(boolean readOnly) {
            throw new UnsupportedOperationException("compile-only stub");
        }

        public LookupOptionsBuilder loadTopicsInBundle(boolean loadTopicsInBundle) {
            throw new UnsupportedOperationException("compile-only stub");
        }

        public LookupOptionsBuilder advertisedListenerName(String advertisedListenerName) {
            throw new UnsupportedOperationException("compile-only stub");
        }

        public LookupOptions build() {
            throw new UnsupportedOperationException("compile-only stub");
        }
    }
}
