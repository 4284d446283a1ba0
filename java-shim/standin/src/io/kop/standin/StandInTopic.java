package io.kop.standin;

import io.netty.buffer.ByteBuf;
import org.apache.bookkeeper.mledger.ManagedLedger;
import org.apache.pulsar.broker.service.persistent.PersistentTopic;

/** A persistent topic over an in-memory managed ledger. */
final class StandInTopic extends PersistentTopic {
    private final StandInLedger ledger;

    StandInTopic(StandInLedger ledger) {
        this.ledger = ledger;
    }

    @Override
    public void publishMessage(ByteBuf headersAndPayload, PublishContext callback) {
        ledger.publish(headersAndPayload, callback);
    }

    @Override
    public ManagedLedger getManagedLedger() {
        return ledger;
    }
}
