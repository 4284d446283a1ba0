package org.apache.pulsar.broker.service;

import io.netty.buffer.ByteBuf;

/** Compile-only stub (pulsar-broker/src/main/java/org/apache/pulsar/broker/service/Topic.java). */
public interface Topic {
    interface PublishContext {
        default String getProducerName() {
            return null;
        }

        default long getSequenceId() {
            return -1L;
        }

        default long getHighestSequenceId() {
            return -1L;
        }

        default void setMetadataFromEntryData(ByteBuf entryData) {
        }

        default long getNumberOfMessages() {
            return 1L;
        }

        default boolean isMarkerMessage() {
            return false;
        }

        void completed(Exception e, long ledgerId, long entryId);
    }

    void publishMessage(ByteBuf headersAndPayload, PublishContext callback);
}
