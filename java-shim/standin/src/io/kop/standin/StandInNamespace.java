package io.kop.standin;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pulsar.broker.lookup.LookupResult;
import org.apache.pulsar.broker.namespace.LookupOptions;
import org.apache.pulsar.broker.namespace.NamespaceService;
import org.apache.pulsar.common.lookup.data.LookupData;
import org.apache.pulsar.common.naming.TopicName;

/**
 * Topic lookups over the stand-in cluster, answered later on an I/O thread as Pulsar answers them
 * after a metadata-store read. With an advertised listener name the answer is the owner's listener
 * of that name, and a broker without one fails the lookup, as Pulsar does.
 */
final class StandInNamespace extends NamespaceService {
    private final StandInCluster cluster;
    private final Executor io;

    StandInNamespace(StandInCluster cluster, Executor io) {
        this.cluster = cluster;
        this.io = io;
    }

    @Override
    public CompletableFuture<Optional<LookupResult>> getBrokerServiceUrlAsync(TopicName topic, LookupOptions options) {
        CompletableFuture<Optional<LookupResult>> result = new CompletableFuture<>();
        io.execute(() -> {
            StandInCluster.Member owner = cluster.owner(topic.toString());
            String listener = options.getAdvertisedListenerName();
            String url = listener == null ? owner.brokerUrl() : owner.listeners().get(listener);
            if (url == null) {
                result.completeExceptionally(new IllegalStateException(
                    "the owner broker " + owner.brokerUrl() + " has no advertised listener named " + listener));
            } else {
                result.complete(Optional.of(new LookupResult(new LookupData(url, "http://stand-in"))));
            }
        });
        return result;
    }
}
