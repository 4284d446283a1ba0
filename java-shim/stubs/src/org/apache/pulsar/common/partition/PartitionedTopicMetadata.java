package org.apache.pulsar.common.partition;

/** Compile-only stub (pulsar-common/src/main/java/org/apache/pulsar/common/partition/PartitionedTopicMetadata.java). */
public class PartitionedTopicMetadata {
    // source: pulsar-common/src/main/java/org/apache/pulsar/common/partition/PartitionedTopicMetadata.java
    public int partitions;

    // source: pulsar-common/src/main/java/org/apache/pulsar/common/partition/PartitionedTopicMetadata.java
    public PartitionedTopicMetadata(int partitions) {
        this.partitions = partitions;
    }
}
