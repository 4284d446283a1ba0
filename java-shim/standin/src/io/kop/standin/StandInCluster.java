package io.kop.standin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The brokers of a stand-in cluster and which of them owns a topic. Real Pulsar assigns namespace
 * bundles to brokers through its load manager; here the owner is a fixed function of the topic's
 * name over a fixed member list, so brokers started with the same list agree without talking.
 *
 * <p>A cluster directory holds {@code brokers} (one line per broker: its Pulsar URL, then its
 * {@code advertisedListeners} value) and {@code topics/}, the partitioned-topic metadata all
 * members share, as Pulsar's metadata store is shared.
 */
final class StandInCluster {
    /** One broker: its Pulsar service URL and its advertised listeners by name. */
    record Member(String brokerUrl, Map<String, String> listeners) {
    }

    private final List<Member> members;
    private final String self;
    private final Path topicsDir;

    private StandInCluster(List<Member> members, String self, Path topicsDir) {
        this.members = members;
        this.self = self;
        this.topicsDir = topicsDir;
    }

    /** A cluster of one broker that owns everything. */
    static StandInCluster single(String brokerUrl, String advertisedListeners) {
        return new StandInCluster(List.of(new Member(brokerUrl, listeners(advertisedListeners))), brokerUrl, null);
    }

    /** The cluster described in {@code dir}, as seen by the member at {@code self}. */
    static StandInCluster open(Path dir, String self) throws IOException {
        List<Member> members = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("brokers"))) {
            String[] parts = line.trim().split("\\s+", 2);
            if (!parts[0].isEmpty()) {
                members.add(new Member(parts[0], listeners(parts.length > 1 ? parts[1] : "")));
            }
        }
        if (members.stream().noneMatch(m -> m.brokerUrl().equals(self))) {
            throw new IllegalArgumentException(self + " is not a member of the cluster in " + dir);
        }
        Path topics = dir.resolve("topics");
        Files.createDirectories(topics);
        return new StandInCluster(List.copyOf(members), self, topics);
    }

    /** Parses Pulsar's {@code advertisedListeners}: {@code name:pulsar://host:port,...}. */
    private static Map<String, String> listeners(String value) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String item : value.split(",")) {
            int colon = item.indexOf(':');
            if (colon > 0) {
                out.put(item.substring(0, colon).trim(), item.substring(colon + 1).trim());
            }
        }
        return out;
    }

    String self() {
        return self;
    }

    /** Where shared topic metadata lives, or null for a single in-memory broker. */
    Path topicsDir() {
        return topicsDir;
    }

    Member owner(String topic) {
        return members.get(Math.floorMod(topic.hashCode(), members.size()));
    }

    boolean owns(String topic) {
        return owner(topic).brokerUrl().equals(self);
    }
}
