package org.apache.pulsar.broker;

import org.apache.pulsar.broker.namespace.NamespaceService;
import org.apache.pulsar.broker.service.BrokerService;
import org.apache.pulsar.client.admin.PulsarAdmin;

/**
 * Compile-only stub of the broker's service root
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/PulsarService.java).
 */
public class PulsarService {
    public PulsarAdmin getAdminClient() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public BrokerService getBrokerService() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public ServiceConfiguration getConfiguration() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public NamespaceService getNamespaceService() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public String getBrokerServiceUrl() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
