package io.kop.standin;

import org.apache.bookkeeper.mledger.AsyncCallbacks;
import org.apache.bookkeeper.mledger.ManagedCursor;
import org.apache.bookkeeper.mledger.ManagedLedger;
import org.apache.bookkeeper.mledger.Position;

/** A non-durable cursor: a read position that moves as entries are read. */
final class StandInCursor implements ManagedCursor {
    private final StandInLedger ledger;
    private final String name;
    long next;

    StandInCursor(StandInLedger ledger, String name, long next) {
        this.ledger = ledger;
        this.name = name;
        this.next = next;
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public void asyncReadEntries(int numberOfEntriesToRead, long maxSizeBytes,
            AsyncCallbacks.ReadEntriesCallback callback, Object ctx, Position maxPosition) {
        ledger.readEntries(this, numberOfEntriesToRead, maxSizeBytes, maxPosition, callback, ctx);
    }

    @Override
    public Position getReadPosition() {
        return StandInLedger.at(next);
    }

    @Override
    public ManagedLedger getManagedLedger() {
        return ledger;
    }
}
