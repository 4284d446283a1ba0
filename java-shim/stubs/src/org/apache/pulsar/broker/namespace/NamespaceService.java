package org.apache.pulsar.broker.namespace;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.pulsar.broker.lookup.LookupResult;
import org.apache.pulsar.common.naming.TopicName;

/**
 * Compile-only stub of the namespace service
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/namespace/NamespaceService.java).
 */
public class NamespaceService {
    public CompletableFuture<Optional<LookupResult>> getBrokerServiceUrlAsync(TopicName topic, LookupOptions options) {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
