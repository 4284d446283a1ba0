package org.apache.pulsar.common.allocator;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

/** The stand-in's allocator: pooled direct memory, as the broker's is by default. */
public class PulsarByteBufAllocator {
    public static final ByteBufAllocator DEFAULT = PooledByteBufAllocator.DEFAULT;
}
