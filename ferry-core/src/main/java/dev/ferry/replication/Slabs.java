/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.memory.Pages;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Staging memory for checkpoints (seed 003's slabs): fixed-size slabs, grown when a checkpoint needs more. After
 * {@code strikesToShrink} consecutive checkpoints each smaller than the one before, half of the slabs are freed,
 * never below one. In steady state a checkpoint allocates nothing: pages are copied into slabs already there.
 *
 * <p>Each staged page has an index: its data is at {@link #segment(int)}, {@link #offset(int)}; its address (block
 * and page) is kept beside it.
 */
public final class Slabs implements AutoCloseable {
    /** Whether {@code slabBytes} can be a slab's size: a positive multiple of the page size. */
    public static boolean validSize(long slabBytes) {
        return slabBytes >= Pages.SIZE && slabBytes % Pages.SIZE == 0;
    }

    private final long slabBytes;
    private final int pagesPerSlab;
    private final int strikesToShrink;
    private final List<Arena> arenas = new ArrayList<>();
    private final List<MemorySegment> slabs = new ArrayList<>();
    private int[] blocks = new int[1024];
    private long[] pages = new long[1024];
    private int count;
    private long previousCount = -1;
    private int strikes;
    private long grown;
    private long shrunk;

    public Slabs(long slabBytes, int strikesToShrink) {
        if (!validSize(slabBytes)) {
            throw new IllegalArgumentException("slab size must be a positive multiple of 4 KiB: " + slabBytes);
        }
        this.slabBytes = slabBytes;
        this.pagesPerSlab = (int) (slabBytes / Pages.SIZE);
        this.strikesToShrink = Math.max(1, strikesToShrink);
        addSlab();
    }

    private void addSlab() {
        Arena a = Arena.ofShared();
        arenas.add(a);
        slabs.add(a.allocate(slabBytes, Pages.SIZE));
        grown++;
    }

    /** Starts staging a new checkpoint. */
    public void clear() {
        count = 0;
    }

    /** Copies the page at {@code offset} of {@code memory} in as page {@code page} of block {@code block}. */
    public void add(int block, long page, MemorySegment memory, long offset) {
        int slab = count / pagesPerSlab;
        if (slab == slabs.size()) {
            addSlab();
        }
        if (count == pages.length) {
            pages = java.util.Arrays.copyOf(pages, count * 2);
            blocks = java.util.Arrays.copyOf(blocks, count * 2);
        }
        MemorySegment.copy(memory, offset, slabs.get(slab), (long) (count % pagesPerSlab) * Pages.SIZE, Pages.SIZE);
        blocks[count] = block;
        pages[count] = page;
        count++;
    }

    /**
     * Makes room for {@code pages} pages ahead of time, so that the next checkpoint's pause does not allocate: called
     * after a checkpoint, while the guest runs.
     */
    public void reserve(long pages) {
        while ((long) slabs.size() * pagesPerSlab < pages) {
            addSlab();
        }
    }

    /** Ends the checkpoint: counts a strike if it was smaller than the one before, halves the slabs on enough. */
    public void finish() {
        if (previousCount >= 0 && count < previousCount) {
            strikes++;
        } else {
            strikes = 0;
        }
        previousCount = count;
        if (strikes >= strikesToShrink) {
            strikes = 0;
            int keep = Math.max(Math.max(1, slabs.size() / 2), slabsNeeded(count));
            while (slabs.size() > keep) {
                slabs.removeLast();
                arenas.removeLast().close();
                shrunk++;
            }
        }
    }

    private int slabsNeeded(int pageCount) {
        return (pageCount + pagesPerSlab - 1) / pagesPerSlab;
    }

    public int count() {
        return count;
    }

    public int block(int i) {
        return blocks[i];
    }

    public long page(int i) {
        return pages[i];
    }

    public MemorySegment segment(int i) {
        return slabs.get(i / pagesPerSlab);
    }

    public long offset(int i) {
        return (long) (i % pagesPerSlab) * Pages.SIZE;
    }

    public int slabCount() {
        return slabs.size();
    }

    /** Slabs the current checkpoint occupies. */
    public int slabsInUse() {
        return Math.max(1, slabsNeeded(count));
    }

    public long slabBytes() {
        return slabBytes;
    }

    /** Slabs allocated and freed over the lifetime (growth and strikes). */
    public long allocations() {
        return grown;
    }

    public long releases() {
        return shrunk;
    }

    @Override
    public void close() {
        for (Arena a : arenas) {
            a.close();
        }
        arenas.clear();
        slabs.clear();
    }
}
