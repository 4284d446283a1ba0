package org.apache.bookkeeper.mledger;

/**
 * The stand-in broker's runtime PositionFactory (the compile-only stub's static methods cannot
 * run). It comes first on the stand-in's class path and shadows the stub, as Pulsar's real class
 * would.
 */
public final class PositionFactory {
    public static final Position EARLIEST = create(-1, -1);
    public static final Position LATEST = create(Long.MAX_VALUE, Long.MAX_VALUE);

    private PositionFactory() {
    }

    public static Position create(long ledgerId, long entryId) {
        return new Impl(ledgerId, entryId);
    }

    private record Impl(long ledgerId, long entryId) implements Position {
        @Override
        public long getLedgerId() {
            return ledgerId;
        }

        @Override
        public long getEntryId() {
            return entryId;
        }

        @Override
        public Position getNext() {
            return new Impl(ledgerId, entryId + 1);
        }
    }
}
