package io.kop.standin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.bookkeeper.mledger.Entry;
import org.apache.bookkeeper.mledger.Position;

/** A read entry; counts releases so the stand-in can tell a leak or a double release. */
final class StandInEntry implements Entry {
    static final AtomicInteger OUTSTANDING = new AtomicInteger();

    private final Position position;
    private final ByteBuf data;
    private boolean released;

    StandInEntry(Position position, byte[] bytes) {
        this.position = position;
        this.data = Unpooled.wrappedBuffer(bytes);
        OUTSTANDING.incrementAndGet();
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
        OUTSTANDING.decrementAndGet();
        return true;
    }
}
