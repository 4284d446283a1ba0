package org.apache.bookkeeper.mledger;

import io.netty.buffer.ByteBuf;

/** Compile-only stub (managed-ledger/src/main/java/org/apache/bookkeeper/mledger/Entry.java). */
public interface Entry {
    byte[] getData();

    int getLength();

    ByteBuf getDataBuffer();

    Position getPosition();

    long getLedgerId();

    long getEntryId();

    boolean release();
}
