/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.guest.RamBlock;
import dev.ferry.memory.AnonymousMemory;
import dev.ferry.memory.Pages;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The in-process guest's RAM: blocks laid out back to back from guest physical address 0, each in its own anonymous
 * mapping. Workloads address RAM by guest physical address; an access never straddles two blocks (all accesses are
 * within one page).
 */
public final class GuestRam implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final List<RamBlock> blocks;
    private final long size;
    /** Start address of each block, for the address-to-block lookup. */
    private final long[] starts;

    public GuestRam(long[] blockSizes) {
        List<RamBlock> list = new ArrayList<>();
        long gpa = 0;
        starts = new long[blockSizes.length];
        for (int i = 0; i < blockSizes.length; i++) {
            long len = blockSizes[i];
            MemorySegment mem = AnonymousMemory.map(len, arena);
            starts[i] = gpa;
            list.add(new RamBlock(i, blockSizes.length == 1 ? "ram" : "ram" + i, gpa, len, mem));
            gpa += len;
        }
        blocks = List.copyOf(list);
        size = gpa;
    }

    public List<RamBlock> blocks() {
        return blocks;
    }

    public long size() {
        return size;
    }

    public long pages() {
        return size >>> Pages.SHIFT;
    }

    /** Index of the block holding guest physical address {@code gpa}. */
    public int blockOf(long gpa) {
        if (gpa < 0 || gpa >= size) {
            throw new IndexOutOfBoundsException("guest address 0x" + Long.toHexString(gpa) + " outside RAM of "
                    + size + " bytes");
        }
        int i = starts.length - 1;
        while (starts[i] > gpa) {
            i--;
        }
        return i;
    }

    public long blockStart(int block) {
        return starts[block];
    }

    /** Reads a byte without marking anything (checks, dumps). */
    public byte readByte(long gpa) {
        int b = blockOf(gpa);
        return blocks.get(b).memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, gpa - starts[b]);
    }

    /** The memory and offset of the page at {@code gpa}: {@code segment(gpa)} holds it at {@code gpa - start}. */
    public MemorySegment segment(long gpa) {
        return blocks.get(blockOf(gpa)).memory();
    }

    @Override
    public void close() {
        arena.close();
    }
}
