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
import org.apache.pulsar.broker.service.BrokerService;
import org.apache.pulsar.broker.service.Topic;
import org.apache.pulsar.client.admin.PulsarAdmin;

/**
 * The broker service and service root the stand-in hands to the protocol handler: one broker that
 * owns every topic, topics in memory, callbacks on two I/O threads.
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

    StandInBrokerService(ServiceConfiguration conf, Path faults) {
        this.faults = faults;
        this.admin = new StandInAdmin(io, this);
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
                return "pulsar://127.0.0.1:6650";
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

    @Override
    public CompletableFuture<Optional<Topic>> getTopic(String topic, boolean createIfMissing) {
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
    public boolean isBrokerEntryMetadataEnabled() {
        return true;
    }
}
