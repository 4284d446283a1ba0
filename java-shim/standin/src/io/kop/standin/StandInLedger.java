package io.kop.standin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import org.apache.bookkeeper.mledger.AsyncCallbacks;
import org.apache.bookkeeper.mledger.Entry;
import org.apache.bookkeeper.mledger.ManagedCursor;
import org.apache.bookkeeper.mledger.ManagedLedger;
import org.apache.bookkeeper.mledger.ManagedLedgerException;
import org.apache.bookkeeper.mledger.Position;
import org.apache.bookkeeper.mledger.PositionFactory;
import org.apache.bookkeeper.mledger.intercept.ManagedLedgerInterceptor;
import org.apache.pulsar.broker.intercept.ManagedLedgerInterceptorImpl;
import org.apache.pulsar.broker.service.Topic;

/**
 * An in-memory managed ledger: entries in ledgers of {@link #ENTRIES_PER_LEDGER}, the broker entry
 * metadata index prepended on add (as AppendIndexMetadataInterceptor does), every callback
 * completed later on the stand-in's I/O threads, as BookKeeper does. A file named
 * {@code fail-appends} or {@code fail-reads} in the fault directory makes adds or reads fail.
 */
final class StandInLedger implements ManagedLedger {
    static final int ENTRIES_PER_LEDGER = 64;

    private final String name;
    private final Executor io;
    private final Path faults;
    private final List<byte[]> entries = new ArrayList<>();
    private final Interceptor interceptor = new Interceptor();

    StandInLedger(String name, Executor io, Path faults) {
        this.name = name;
        this.io = io;
        this.faults = faults;
    }

    /** The interceptor's running index: offset of the last record stored. */
    static final class Interceptor extends ManagedLedgerInterceptorImpl {
        private long index = -1;

        @Override
        public synchronized long getIndex() {
            return index;
        }

        synchronized long add(long records) {
            index += records;
            return index;
        }
    }

    private boolean fault(String kind) {
        return faults != null && Files.exists(faults.resolve(kind));
    }

    static Position at(long index) {
        if (index < 0) {
            return PositionFactory.create(1, -1);
        }
        return PositionFactory.create(1 + index / ENTRIES_PER_LEDGER, index % ENTRIES_PER_LEDGER);
    }

    private static long indexOf(Position p) {
        if (p.getEntryId() < 0) {
            return (p.getLedgerId() - 1) * ENTRIES_PER_LEDGER - 1;
        }
        return (p.getLedgerId() - 1) * ENTRIES_PER_LEDGER + p.getEntryId();
    }

    /** Adds an entry in call order; the publish context hears back on an I/O thread. */
    void publish(ByteBuf frame, Topic.PublishContext ctx) {
        if (fault("fail-appends")) {
            frame.release();
            io.execute(() -> ctx.completed(new ManagedLedgerException("injected append failure"), -1, -1));
            return;
        }
        byte[] stored;
        Position position;
        synchronized (this) {
            long index = interceptor.add(ctx.getNumberOfMessages());
            byte[] meta = brokerEntryMetadata(System.currentTimeMillis(), index);
            stored = new byte[6 + meta.length + frame.readableBytes()];
            ByteBuf out = Unpooled.wrappedBuffer(stored);
            out.writerIndex(0);
            out.writeShort(0x0e02);
            out.writeInt(meta.length);
            out.writeBytes(meta);
            out.writeBytes(frame);
            entries.add(stored);
            position = at(entries.size() - 1);
        }
        frame.release();
        io.execute(() -> {
            ctx.setMetadataFromEntryData(Unpooled.wrappedBuffer(stored));
            ctx.completed(null, position.getLedgerId(), position.getEntryId());
        });
    }

    private static byte[] brokerEntryMetadata(long timestamp, long index) {
        ByteBuf out = Unpooled.buffer(24);
        out.writeByte(1 << 3);
        varint(out, timestamp);
        out.writeByte(2 << 3);
        varint(out, index);
        byte[] bytes = new byte[out.readableBytes()];
        out.readBytes(bytes);
        return bytes;
    }

    private static void varint(ByteBuf out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.writeByte((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.writeByte((int) v);
    }

    synchronized Entry entry(long index) {
        return new StandInEntry(at(index), entries.get((int) index));
    }

    synchronized long size() {
        return entries.size();
    }

    /** Reads up to {@code max} entries from {@code from} (at least one if any), within the byte limit. */
    List<Entry> read(long from, int max, long maxBytes, long lastAllowed) {
        List<Entry> out = new ArrayList<>();
        long bytes = 0;
        synchronized (this) {
            for (long i = from; i < entries.size() && i <= lastAllowed && out.size() < max; i++) {
                if (!out.isEmpty() && bytes + entries.get((int) i).length > maxBytes) {
                    break;
                }
                bytes += entries.get((int) i).length;
                out.add(entry(i));
            }
        }
        return out;
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public ManagedCursor newNonDurableCursor(Position start, String subscriptionName) {
        return new StandInCursor(this, subscriptionName, indexOf(start) + 1);
    }

    @Override
    public void asyncDeleteCursor(String cursorName, AsyncCallbacks.DeleteCursorCallback callback, Object ctx) {
        io.execute(() -> callback.deleteCursorComplete(ctx));
    }

    @Override
    public long getNumberOfEntries() {
        return size();
    }

    @Override
    public Position getLastConfirmedEntry() {
        return at(size() - 1);
    }

    @Override
    public Position getFirstPosition() {
        return PositionFactory.create(1, -1);
    }

    @Override
    public void asyncReadEntry(Position position, AsyncCallbacks.ReadEntryCallback callback, Object ctx) {
        long index = indexOf(position);
        io.execute(() -> {
            if (fault("fail-reads") || index < 0 || index >= size()) {
                callback.readEntryFailed(new ManagedLedgerException("cannot read " + position), ctx);
            } else {
                callback.readEntryComplete(entry(index), ctx);
            }
        });
    }

    void readEntries(StandInCursor cursor, int max, long maxBytes, Position maxPosition,
            AsyncCallbacks.ReadEntriesCallback callback, Object ctx) {
        io.execute(() -> {
            if (fault("fail-reads")) {
                callback.readEntriesFailed(new ManagedLedgerException("injected read failure"), ctx);
                return;
            }
            List<Entry> read = read(cursor.next, max, maxBytes, indexOf(maxPosition));
            cursor.next += read.size();
            callback.readEntriesComplete(read, ctx);
        });
    }

    @Override
    public Position getNextValidPosition(Position position) {
        return at(indexOf(position) + 1);
    }

    @Override
    public Position getPreviousPosition(Position position) {
        return at(indexOf(position) - 1);
    }

    /** Binary search for the newest entry matching {@code predicate}; returns the position after it. */
    @Override
    public CompletableFuture<Position> asyncFindPosition(Predicate<Entry> predicate) {
        CompletableFuture<Position> result = new CompletableFuture<>();
        io.execute(() -> {
            long lo = 0;
            long hi = size() - 1;
            long newest = -1;
            while (lo <= hi) {
                long mid = (lo + hi) >>> 1;
                if (predicate.test(entry(mid))) {
                    newest = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            result.complete(at(newest + 1));
        });
        return result;
    }

    @Override
    public ManagedLedgerInterceptor getManagedLedgerInterceptor() {
        return interceptor;
    }

    @Override
    public boolean isTerminated() {
        return false;
    }
}
