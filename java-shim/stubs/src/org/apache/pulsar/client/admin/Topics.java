package org.apache.pulsar.client.admin;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.pulsar.common.partition.PartitionedTopicMetadata;

/** Compile-only stub (pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java). */
public interface Topics {
    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> createPartitionedTopicAsync(String topic, int numPartitions);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> createPartitionedTopicAsync(String topic, int numPartitions, Map<String, String> properties);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Map<String, String>> getPropertiesAsync(String topic);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> updatePropertiesAsync(String topic, Map<String, String> properties);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> removePropertiesAsync(String topic, String key);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> updatePartitionedTopicAsync(String topic, int numPartitions);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<Void> deletePartitionedTopicAsync(String topic, boolean force);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<PartitionedTopicMetadata> getPartitionedTopicMetadataAsync(String topic);

    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/Topics.java
    CompletableFuture<List<String>> getPartitionedTopicListAsync(String namespace);
}
