/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.memory.DirtyBitmap;
import dev.ferry.memory.Pages;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One vCPU's view of guest RAM: every store goes through here and marks its page in this vCPU's own dirty bitmap
 * (one writer per bitmap, so marking needs no atomic instruction; see {@link DirtyBitmap}). Not thread-safe: each
 * vCPU thread has its own.
 */
public final class VCpuMemory {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private final GuestRam ram;
    private final MemorySegment[] segments;
    private final long[] starts;
    private final long[] ends;
    private final DirtyBitmap[] dirty;
    private long writes;

    VCpuMemory(GuestRam ram, DirtyBitmap[] dirty) {
        this.ram = ram;
        int n = ram.blocks().size();
        this.segments = new MemorySegment[n];
        this.starts = new long[n];
        this.ends = new long[n];
        for (int i = 0; i < n; i++) {
            segments[i] = ram.blocks().get(i).memory();
            starts[i] = ram.blockStart(i);
            ends[i] = starts[i] + ram.blocks().get(i).length();
        }
        this.dirty = dirty;
    }

    public GuestRam ram() {
        return ram;
    }

    private int block(long gpa) {
        // Almost every guest has one block: check it first without a loop.
        if (gpa >= 0 && gpa < ends[0]) {
            return 0;
        }
        for (int i = 1; i < ends.length; i++) {
            if (gpa >= starts[i] && gpa < ends[i]) {
                return i;
            }
        }
        throw new IndexOutOfBoundsException("guest address 0x" + Long.toHexString(gpa) + " outside RAM");
    }

    public byte getByte(long gpa) {
        int b = block(gpa);
        return segments[b].get(ValueLayout.JAVA_BYTE, gpa - starts[b]);
    }

    public void putByte(long gpa, byte value) {
        int b = block(gpa);
        long off = gpa - starts[b];
        segments[b].set(ValueLayout.JAVA_BYTE, off, value);
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    /** Adds one to the byte at {@code gpa}: the memtest and seed workloads' store. */
    public void incrementByte(long gpa) {
        int b = block(gpa);
        long off = gpa - starts[b];
        MemorySegment m = segments[b];
        m.set(ValueLayout.JAVA_BYTE, off, (byte) (m.get(ValueLayout.JAVA_BYTE, off) + 1));
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    public long getLong(long gpa) {
        int b = block(gpa);
        return segments[b].get(LONG, gpa - starts[b]);
    }

    /** Stores {@code count} longs at {@code gpa} from {@code values}; the range must lie within one page. */
    public void putLongs(long gpa, long[] values, int count) {
        int b = block(gpa);
        long off = gpa - starts[b];
        MemorySegment m = segments[b];
        for (int i = 0; i < count; i++) {
            m.set(LONG, off + 8L * i, values[i]);
        }
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    /** Reads {@code length} bytes at {@code gpa} (within one page) into {@code dst}. */
    public void getBytes(long gpa, byte[] dst, int offset, int length) {
        int b = block(gpa);
        MemorySegment.copy(segments[b], ValueLayout.JAVA_BYTE, gpa - starts[b], dst, offset, length);
    }

    /** Stores {@code length} bytes of {@code src} at {@code gpa}; the range must lie within one page. */
    public void putBytes(long gpa, byte[] src, int offset, int length) {
        int b = block(gpa);
        long off = gpa - starts[b];
        MemorySegment.copy(src, offset, segments[b], ValueLayout.JAVA_BYTE, off, length);
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    /** Stores a long at {@code gpa}. */
    public void putLong(long gpa, long value) {
        int b = block(gpa);
        long off = gpa - starts[b];
        segments[b].set(LONG, off, value);
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    /** Copies a whole page into guest RAM at page-aligned {@code gpa}. */
    public void putPage(long gpa, MemorySegment page) {
        int b = block(gpa);
        long off = gpa - starts[b];
        MemorySegment.copy(page, 0, segments[b], off, Pages.SIZE);
        dirty[b].mark(off >>> Pages.SHIFT);
        writes++;
    }

    /** Store operations so far (the rate limiter counts them). */
    long writes() {
        return writes;
    }
}
