package org.apache.pulsar.broker.namespace;

/** The stand-in broker's runtime LookupOptions and builder, shadowing the compile-only stub. */
public class LookupOptions {
    private final boolean authoritative;
    private final String advertisedListenerName;

    LookupOptions(boolean authoritative, String advertisedListenerName) {
        this.authoritative = authoritative;
        this.advertisedListenerName = advertisedListenerName;
    }

    public static LookupOptionsBuilder builder() {
        return new LookupOptionsBuilder();
    }

    public boolean isAuthoritative() {
        return authoritative;
    }

    public String getAdvertisedListenerName() {
        return advertisedListenerName;
    }

    /** Collects options as Lombok's generated builder does. */
    public static class LookupOptionsBuilder {
        private boolean authoritative;
        private String advertisedListenerName;

        public LookupOptionsBuilder authoritative(boolean value) {
            authoritative = value;
            return this;
        }

        public LookupOptionsBuilder readOnly(boolean value) {
            return this;
        }

        public LookupOptionsBuilder loadTopicsInBundle(boolean value) {
            return this;
        }

        public LookupOptionsBuilder advertisedListenerName(String value) {
            advertisedListenerName = value;
            return this;
        }

        public LookupOptions build() {
            return new LookupOptions(authoritative, advertisedListenerName);
        }
    }
}
