package io.kop.standin;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.apache.pulsar.client.admin.PulsarAdmin;
import org.apache.pulsar.client.admin.Topics;
import org.apache.pulsar.common.partition.PartitionedTopicMetadata;
import java.util.stream.Stream;

/** The admin client's topic calls, over the stand-in's partitioned-topic table (in memory or shared files). */
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

    /** A partitioned topic's stored metadata. */
    private record Meta(int partitions, Map<String, String> properties) {
    }

    private final Map<String, Meta> memory = new ConcurrentHashMap<>();
    private final Path dir;
    private final Executor io;
    private final StandInBrokerService service;

    /** Keeps topic metadata in memory, or in {@code dir} (shared by a cluster's brokers) if set. */
    StandInAdmin(Executor io, StandInBrokerService service, Path dir) {
        this.io = io;
        this.service = service;
        this.dir = dir;
    }

    boolean exists(String topic) {
        try {
            return read(topic) != null;
        } catch (IOException e) {
            return false;
        }
    }

    private Path file(String topic) {
        return dir.resolve(URLEncoder.encode(topic, StandardCharsets.UTF_8));
    }

    private Meta read(String topic) throws IOException {
        if (dir == null) {
            return memory.get(topic);
        }
        Properties props = new Properties();
        try (Reader in = Files.newBufferedReader(file(topic), StandardCharsets.UTF_8)) {
            props.load(in);
        } catch (NoSuchFileException e) {
            return null;
        }
        Map<String, String> properties = new HashMap<>();
        for (String key : props.stringPropertyNames()) {
            if (key.startsWith("property.")) {
                properties.put(key.substring("property.".length()), props.getProperty(key));
            }
        }
        return new Meta(Integer.parseInt(props.getProperty("partitions")), Map.copyOf(properties));
    }

    /** Stores {@code meta}; with {@code create}, fails if the topic exists (atomically, across brokers). */
    private void write(String topic, Meta meta, boolean create) throws Exception {
        if (dir == null) {
            if (create && memory.putIfAbsent(topic, meta) != null) {
                throw new ConflictException("This topic already exists");
            }
            memory.put(topic, meta);
            return;
        }
        Properties props = new Properties();
        props.setProperty("partitions", Integer.toString(meta.partitions()));
        meta.properties().forEach((k, v) -> props.setProperty("property." + k, v));
        Path tmp = Files.createTempFile(dir, ".topic", ".tmp");
        try {
            try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                props.store(out, null);
            }
            if (create) {
                try {
                    Files.createLink(file(topic), tmp);
                } catch (FileAlreadyExistsException e) {
                    throw new ConflictException("This topic already exists");
                }
            } else {
                Files.move(tmp, file(topic), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private Meta remove(String topic) throws IOException {
        if (dir == null) {
            return memory.remove(topic);
        }
        Meta meta = read(topic);
        return Files.deleteIfExists(file(topic)) ? meta : null;
    }

    private List<String> names() throws IOException {
        if (dir == null) {
            return List.copyOf(memory.keySet());
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> !n.startsWith("."))
                .map(n -> URLDecoder.decode(n, StandardCharsets.UTF_8)).toList();
        }
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
            Meta meta = read(topic);
            if (meta == null) {
                throw new NotFoundException("Topic does not exist");
            }
            return meta.properties();
        });
    }

    @Override
    public CompletableFuture<Void> createPartitionedTopicAsync(String topic, int numPartitions,
            Map<String, String> props) {
        return later(() -> {
            if (numPartitions < 1) {
                throw new IllegalArgumentException("partitions must be positive");
            }
            write(topic, new Meta(numPartitions, Map.copyOf(props)), true);
            return null;
        });
    }

    /** Rewrites a topic's properties with {@code change}, one change at a time within this broker. */
    private CompletableFuture<Void> changeProperties(String topic, java.util.function.Consumer<Map<String, String>> change) {
        return later(() -> {
            synchronized (this) {
                Meta current = read(topic);
                if (current == null) {
                    throw new NotFoundException("Topic does not exist");
                }
                Map<String, String> properties = new HashMap<>(current.properties());
                change.accept(properties);
                write(topic, new Meta(current.partitions(), Map.copyOf(properties)), false);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> updatePropertiesAsync(String topic, Map<String, String> properties) {
        return changeProperties(topic, current -> current.putAll(properties));
    }

    @Override
    public CompletableFuture<Void> removePropertiesAsync(String topic, String key) {
        return changeProperties(topic, current -> current.remove(key));
    }

    @Override
    public CompletableFuture<Void> updatePartitionedTopicAsync(String topic, int numPartitions) {
        return later(() -> {
            Meta current = read(topic);
            if (current == null) {
                throw new NotFoundException("Partitioned topic does not exist");
            }
            if (numPartitions <= current.partitions()) {
                throw new IllegalArgumentException("The number of partitions can only grow");
            }
            write(topic, new Meta(numPartitions, current.properties()), false);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> deletePartitionedTopicAsync(String topic, boolean force) {
        return later(() -> {
            Meta removed = remove(topic);
            if (removed == null) {
                throw new NotFoundException("Partitioned topic does not exist");
            }
            for (int p = 0; p < removed.partitions(); p++) {
                service.drop(topic + "-partition-" + p);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<PartitionedTopicMetadata> getPartitionedTopicMetadataAsync(String topic) {
        return later(() -> {
            Meta meta = read(topic);
            return new PartitionedTopicMetadata(meta == null ? 0 : meta.partitions());
        });
    }

    @Override
    public CompletableFuture<List<String>> getPartitionedTopicListAsync(String namespace) {
        String prefix = "persistent://" + namespace + "/";
        return later(() -> names().stream().filter(t -> t.startsWith(prefix)).sorted().toList());
    }
}
