package io.kop.standin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.bookkeeper.mledger.Entry;
import org.apache.bookkeeper.mledger.Position;

/**
 * A read entry; counts releases so the stand-in can tell a leak or a double release. Its memory
 * takes the shapes a broker's entries come in, by entry id: a composite of two direct buffers (an
 * entry from the cache, broker metadata apart from the payload), one pooled direct buffer (read
 * from a bookie), or a heap buffer (a broker that prefers heap memory). Released entries free
 * their memory, so a reader that holds on to it past release reads garbage.
 */
final class StandInEntry implements Entry {
    static final AtomicInteger OUTSTANDING = new AtomicInteger();

    private final Position position;
    private final ByteBuf data;
    private boolean released;

    StandInEntry(Position position, byte[] bytes) {
        this.position = position;
        this.data = shaped(position.getEntryId(), bytes);
        OUTSTANDING.incrementAndGet();
    }

    private static ByteBuf shaped(long entryId, byte[] bytes) {
        switch ((int) Math.floorMod(entryId, 3L)) {
            case 0: {
                int split = bytes.length / 2;
                ByteBuf head = PooledByteBufAllocator.DEFAULT.directBuffer(split).writeBytes(bytes, 0, split);
                ByteBuf tail = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length - split)
                    .writeBytes(bytes, split, bytes.length - split);
                return Unpooled.wrappedBuffer(head, tail);
            }
            case 1:
                return PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
            default:
                return Unpooled.wrappedBuffer(bytes);
        }
    }

    @Override
    public byte[] getData() {
        byte[] out = new byte[data.readableBytes()];
        data.getBytes(data.readerIndex(), out);
        return out;
    }

    @Override
    public int getLength() {
        return data.readableBytes();
    }

    @Override
    public ByteBuf getDataBuffer() {
        return data;
    }

    @Override
    public Position getPosition() {
        return position;
    }

    @Override
    public long getLedgerId() {
        return position.getLedgerId();
    }

    @Override
    public long getEntryId() {
        return position.getEntryId();
    }

    @Override
    public synchronized boolean release() {
        if (released) {
            throw new IllegalStateException("entry " + position + " released twice");
        }
        released = true;
        data.release();
        OUTSTANDING.decrementAndGet();
        return true;
    }
}
