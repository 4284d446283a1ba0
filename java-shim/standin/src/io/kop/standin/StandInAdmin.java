package io.kop.standin;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.apache.pulsar.client.admin.PulsarAdmin;
import org.apache.pulsar.client.admin.Topics;
import org.apache.pulsar.common.partition.PartitionedTopicMetadata;

/** The admin client's topic calls, over the stand-in's partitioned-topic table. */
final class StandInAdmin implements PulsarAdmin, Topics {
    /** Named like Pulsar admin's 409 exception, which the shim classifies by name. */
    static final class ConflictException extends Exception {
        private static final long serialVersionUID = 1L;

        ConflictException(String message) {
            super(message);
        }
    }

    /** Named like Pulsar admin's 404 exception. */
    static final class NotFoundException extends Exception {
        private static final long serialVersionUID = 1L;

        NotFoundException(String message) {
            super(message);
        }
    }

    private final Map<String, Integer> partitioned = new ConcurrentHashMap<>();
    private final Map<String, Map<String, String>> properties = new ConcurrentHashMap<>();
    private final Executor io;
    private final StandInBrokerService service;

    StandInAdmin(Executor io, StandInBrokerService service) {
        this.io = io;
        this.service = service;
    }

    boolean exists(String topic) {
        return partitioned.containsKey(topic);
    }

    @Override
    public Topics topics() {
        return this;
    }

    private <T> CompletableFuture<T> later(java.util.concurrent.Callable<T> work) {
        CompletableFuture<T> result = new CompletableFuture<>();
        io.execute(() -> {
            try {
                result.complete(work.call());
            } catch (Exception e) {
                result.completeExceptionally(e);
            }
        });
        return result;
    }

    @Override
    public CompletableFuture<Void> createPartitionedTopicAsync(String topic, int numPartitions) {
        return createPartitionedTopicAsync(topic, numPartitions, Map.of());
    }

    @Override
    public CompletableFuture<Map<String, String>> getPropertiesAsync(String topic) {
        return later(() -> {
            if (!partitioned.containsKey(topic)) {
                throw new NotFoundException("Topic does not exist");
            }
            return properties.getOrDefault(topic, Map.of());
        });
    }

    @Override
    public CompletableFuture<Void> createPartitionedTopicAsync(String topic, int numPartitions,
            Map<String, String> props) {
        return later(() -> {
            if (numPartitions < 1) {
                throw new IllegalArgumentException("partitions must be positive");
            }
            if (partitioned.putIfAbsent(topic, numPartitions) != null) {
                throw new ConflictException("This topic already exists");
            }
            properties.put(topic, Map.copyOf(props));
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> updatePartitionedTopicAsync(String topic, int numPartitions) {
        return later(() -> {
            Integer current = partitioned.get(topic);
            if (current == null) {
                throw new NotFoundException("Partitioned topic does not exist");
            }
            if (numPartitions <= current) {
                throw new IllegalArgumentException("The number of partitions can only grow");
            }
            partitioned.put(topic, numPartitions);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> deletePartitionedTopicAsync(String topic, boolean force) {
        return later(() -> {
            Integer partitions = partitioned.remove(topic);
            properties.remove(topic);
            if (partitions == null) {
                throw new NotFoundException("Partitioned topic does not exist");
            }
            for (int p = 0; p < partitions; p++) {
                service.drop(topic + "-partition-" + p);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<PartitionedTopicMetadata> getPartitionedTopicMetadataAsync(String topic) {
        return later(() -> new PartitionedTopicMetadata(partitioned.getOrDefault(topic, 0)));
    }

    @Override
    public CompletableFuture<List<String>> getPartitionedTopicListAsync(String namespace) {
        String prefix = "persistent://" + namespace + "/";
        return later(() -> partitioned.keySet().stream().filter(t -> t.startsWith(prefix)).sorted().toList());
    }
}
