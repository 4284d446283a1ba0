package org.apache.pulsar.broker.service;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.pulsar.broker.PulsarService;
import org.apache.pulsar.broker.authentication.AuthenticationService;

/**
 * Compile-only stub of the broker service
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/service/BrokerService.java).
 */
public class BrokerService {
    public CompletableFuture<Optional<Topic>> getTopicIfExists(String topic) {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public CompletableFuture<Optional<Topic>> getTopic(String topic, boolean createIfMissing) {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public PulsarService pulsar() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public PulsarService getPulsar() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    // source: pulsar-broker/src/main/java/org/apache/pulsar/broker/service/BrokerService.java
    public AuthenticationService getAuthenticationService() {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public boolean isBrokerEntryMetadataEnabled() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
