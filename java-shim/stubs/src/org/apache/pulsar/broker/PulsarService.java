package org.apache.pulsar.broker;

import org.apache.pulsar.broker.service.BrokerService;

/**
 * Compile-only stub of the broker's service root
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/PulsarService.java).
 */
public class PulsarService {
    public BrokerService getBrokerService() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public ServiceConfiguration getConfiguration() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getBrokerServiceUrl() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
