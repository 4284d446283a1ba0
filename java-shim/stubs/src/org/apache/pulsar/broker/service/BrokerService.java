package org.apache.pulsar.broker.service;

import org.apache.pulsar.broker.PulsarService;

/**
 * Compile-only stub of the broker service
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/service/BrokerService.java).
 */
public class BrokerService {
    public PulsarService pulsar() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public PulsarService getPulsar() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public boolean isBrokerEntryMetadataEnabled() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
