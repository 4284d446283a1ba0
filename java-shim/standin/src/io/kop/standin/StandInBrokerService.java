package io.kop.standin;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pulsar.broker.PulsarService;
import org.apache.pulsar.broker.ServiceConfiguration;
import org.apache.pulsar.broker.authentication.AuthenticationService;
import org.apache.pulsar.broker.namespace.NamespaceService;
import org.apache.pulsar.broker.service.BrokerService;
import org.apache.pulsar.broker.service.Topic;
import org.apache.pulsar.client.admin.PulsarAdmin;

/**
 * The broker service and service root the stand-in hands to the protocol handler: topics in
 * memory, served only where the cluster says this broker owns them, callbacks on two I/O threads.
 */
final class StandInBrokerService extends BrokerService {
    private final PulsarService pulsar;
    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "standin-io");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, StandInTopic> topics = new ConcurrentHashMap<>();
    private final StandInAdmin admin;
    private final Path faults;

    private final StandInCluster cluster;
    private final NamespaceService namespaces;
    private final AuthenticationService authentication;

    StandInBrokerService(ServiceConfiguration conf, Path faults, StandInCluster cluster) {
        this.faults = faults;
        this.cluster = cluster;
        this.admin = new StandInAdmin(io, this, cluster.topicsDir());
        this.namespaces = new StandInNamespace(cluster, io);
        this.authentication = new StandInAuthentication(conf.getProperties().getProperty("standInTokens"), io);
        BrokerService self = this;
        this.pulsar = new PulsarService() {
            @Override
            public BrokerService getBrokerService() {
                return self;
            }

            @Override
            public ServiceConfiguration getConfiguration() {
                return conf;
            }

            @Override
            public String getBrokerServiceUrl() {
                return cluster.self();
            }

            @Override
            public NamespaceService getNamespaceService() {
                return namespaces;
            }

            @Override
            public PulsarAdmin getAdminClient() {
                return admin;
            }
        };
    }

    void drop(String topic) {
        topics.remove(topic);
    }

    private static String partitionedName(String topic) {
        int at = topic.lastIndexOf("-partition-");
        return at < 0 ? topic : topic.substring(0, at);
    }

    @Override
    public CompletableFuture<Optional<Topic>> getTopicIfExists(String topic) {
        return CompletableFuture.completedFuture(Optional.ofNullable(topics.get(topic)));
    }

    /** Named like Pulsar's exception for a topic whose bundle another broker owns. */
    static final class ServiceUnitNotReadyException extends Exception {
        private static final long serialVersionUID = 1L;

        ServiceUnitNotReadyException(String message) {
            super(message);
        }
    }

    @Override
    public CompletableFuture<Optional<Topic>> getTopic(String topic, boolean createIfMissing) {
        if (!cluster.owns(topic)) {
            return CompletableFuture.failedFuture(new ServiceUnitNotReadyException(
                "Namespace bundle for topic (" + topic + ") not served by this instance"));
        }
        StandInTopic found = topics.get(topic);
        if (found == null && createIfMissing && admin.exists(partitionedName(topic))) {
            found = topics.computeIfAbsent(topic, t -> new StandInTopic(new StandInLedger(t, io, faults)));
        }
        return CompletableFuture.completedFuture(Optional.ofNullable(found));
    }

    @Override
    public PulsarService pulsar() {
        return pulsar;
    }

    @Override
    public PulsarService getPulsar() {
        return pulsar;
    }

    @Override
    public AuthenticationService getAuthenticationService() {
        return authentication;
    }

    @Override
    public boolean isBrokerEntryMetadataEnabled() {
        return true;
    }
}
