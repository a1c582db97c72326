/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** Page geometry and the page-sized primitives every part of Ferry shares. Ferry migrates 4 KiB pages. */
public final class Pages {
    public static final int SHIFT = 12;
    public static final int SIZE = 1 << SHIFT;

    /** A page of zeros to compare against; never written. */
    public static final MemorySegment ZERO_PAGE = MemorySegment.ofArray(new byte[SIZE]).asReadOnly();

    /** CRC32C of a page of zeros, the digest contribution of every zero page. */
    public static final int ZERO_PAGE_CRC;

    static {
        CRC32C crc = new CRC32C();
        crc.update(new byte[SIZE]);
        ZERO_PAGE_CRC = (int) crc.getValue();
    }

    private Pages() {
    }

    /** Whether the page at {@code offset} is all zeros (a vectorised compare, no allocation). */
    public static boolean isZero(MemorySegment memory, long offset) {
        // Most non-zero pages differ in their first word: test it before the bulk compare.
        if (memory.get(ValueLayout.JAVA_LONG_UNALIGNED, offset) != 0) {
            return false;
        }
        return MemorySegment.mismatch(memory, offset, offset + SIZE, ZERO_PAGE, 0, SIZE) == -1;
    }

    /** Number of pages needed to hold {@code bytes}. */
    public static long count(long bytes) {
        return (bytes + SIZE - 1) >>> SHIFT;
    }

    /**
     * CRC32C of the page at {@code offset} of {@code memory}, through {@code scratch} (a direct buffer of one page and
     * a segment over it, reused by the caller, so that nothing is allocated).
     */
    public static int crc(CRC32C crc, MemorySegment memory, long offset, MemorySegment scratch, ByteBuffer scratchBuf) {
        MemorySegment.copy(memory, offset, scratch, 0, SIZE);
        crc.reset();
        crc.update(scratchBuf.clear());
        return (int) crc.getValue();
    }

    /**
     * CRC32C of the page at {@code position} in {@code buffer}, leaving the buffer's position and limit as they
     * were. {@code crc} is reset first; it is passed in so that hot loops allocate nothing.
     */
    public static int crc(CRC32C crc, ByteBuffer buffer, int position) {
        int oldPosition = buffer.position();
        int oldLimit = buffer.limit();
        buffer.limit(position + SIZE).position(position);
        crc.reset();
        crc.update(buffer);
        buffer.limit(oldLimit).position(oldPosition);
        return (int) crc.getValue();
    }
}
