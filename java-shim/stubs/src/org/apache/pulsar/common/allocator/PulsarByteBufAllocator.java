package org.apache.pulsar.common.allocator;

import io.netty.buffer.ByteBufAllocator;

/**
 * Compile-only stub of the broker's buffer allocator
 * (pulsar-common/src/main/java/org/apache/pulsar/common/allocator/PulsarByteBufAllocator.java).
 */
public class PulsarByteBufAllocator {
    public static final ByteBufAllocator DEFAULT = null;
}
