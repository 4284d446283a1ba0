package org.apache.pulsar.common.naming;

/**
 * Compile-only stub of a parsed topic name
 * (pulsar-common/src/main/java/org/apache/pulsar/common/naming/TopicName.java).
 */
public class TopicName {
    public static TopicName get(String topic) {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getPersistenceNamingEncoding() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
