package io.kop.pulsar;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The memory of read entries, handed to the core without copying it onto the Java heap: direct
 * parts (BookKeeper's pooled buffers, or the pieces of a composite entry) go as ByteBuffers whose
 * address the core reads, heap parts as their backing arrays. The core copies each part once.
 */
final class EntryParts {
    private final List<Object> objects;
    private int[] layout;
    private int count;

    EntryParts(int entries) {
        objects = new ArrayList<>(entries);
        layout = new int[entries * 3];
    }

    /** Adds an entry's readable bytes; returns how many parts it took. */
    int add(ByteBuf data) {
        int index = data.readerIndex();
        int length = data.readableBytes();
        if (data.nioBufferCount() < 0) {
            byte[] copy = new byte[length];
            data.getBytes(index, copy);
            part(copy, NativeCore.ARRAY_PART, 0, length);
            return 1;
        }
        int parts = 0;
        for (ByteBuffer nio : data.nioBuffers(index, length)) {
            int remaining = nio.remaining();
            if (remaining == 0) {
                continue;
            }
            if (nio.isDirect()) {
                part(nio, NativeCore.DIRECT_PART, nio.position(), remaining);
            } else if (nio.hasArray()) {
                part(nio.array(), NativeCore.ARRAY_PART, nio.arrayOffset() + nio.position(), remaining);
            } else {
                byte[] copy = new byte[remaining];
                nio.duplicate().get(copy);
                part(copy, NativeCore.ARRAY_PART, 0, remaining);
            }
            parts++;
        }
        return parts;
    }

    private void part(Object object, int kind, int offset, int length) {
        if (count * 3 == layout.length) {
            layout = Arrays.copyOf(layout, Math.max(6, layout.length * 2));
        }
        layout[count * 3] = kind;
        layout[count * 3 + 1] = offset;
        layout[count * 3 + 2] = length;
        objects.add(object);
        count++;
    }

    Object[] objects() {
        return objects.toArray();
    }

    int[] layout() {
        return Arrays.copyOf(layout, count * 3);
    }
}
