package org.apache.pulsar.broker.service.persistent;

import io.netty.buffer.ByteBuf;
import org.apache.bookkeeper.mledger.ManagedLedger;
import org.apache.pulsar.broker.service.Topic;

/** Compile-only stub (pulsar-broker/src/main/java/org/apache/pulsar/broker/service/persistent/PersistentTopic.java). */
public class PersistentTopic implements Topic {
    // source: pulsar-broker/src/main/java/org/apache/pulsar/broker/service/persistent/PersistentTopic.java
    @Override
    public void publishMessage(ByteBuf headersAndPayload, PublishContext callback) {
        throw new UnsupportedOperationException("compile-only stub");
    }

    public ManagedLedger getManagedLedger() {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
