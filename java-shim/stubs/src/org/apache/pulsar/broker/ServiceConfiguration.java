package org.apache.pulsar.broker;

import java.util.Properties;
import java.util.Set;

/**
 * Compile-only stub of the broker configuration
 * (pulsar-broker-common/src/main/java/org/apache/pulsar/broker/ServiceConfiguration.java).
 */
public class ServiceConfiguration {
    public Properties getProperties() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public Set<String> getMessagingProtocols() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getProtocolHandlerDirectory() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getNarExtractionDirectory() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public Set<String> getBrokerEntryMetadataInterceptors() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
