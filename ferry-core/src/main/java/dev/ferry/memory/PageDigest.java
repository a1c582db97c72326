/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The RAM digest both ends of a stream compute: the CRC32C of each page as it was sent (source) or as it was
 * written into the guest (destination), kept per page, and at the end the CRC32C of all of them (little-endian u32,
 * block by block, page by page). Keeping it per page makes it incremental: only pages sent in the final round are
 * hashed during the downtime.
 */
public final class PageDigest implements AutoCloseable {
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] crcs;

    /** {@code pagesPerBlock[i]} pages in block {@code i}. */
    public PageDigest(long[] pagesPerBlock) {
        crcs = new MemorySegment[pagesPerBlock.length];
        for (int i = 0; i < pagesPerBlock.length; i++) {
            crcs[i] = arena.allocate(pagesPerBlock[i] * 4, 8);
        }
    }

    public static PageDigest forBlocks(List<Long> pagesPerBlock) {
        return new PageDigest(pagesPerBlock.stream().mapToLong(Long::longValue).toArray());
    }

    public void set(int block, long page, int crc) {
        crcs[block].set(LE_INT, page * 4, crc);
    }

    public int get(int block, long page) {
        return crcs[block].get(LE_INT, page * 4);
    }

    /** The digest of all pages. */
    public int digest() {
        CRC32C crc = new CRC32C();
        for (MemorySegment s : crcs) {
            crc.update(s.asByteBuffer());
        }
        return (int) crc.getValue();
    }

    @Override
    public void close() {
        arena.close();
    }
}
