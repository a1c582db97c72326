/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

/**
 * An approximate access counter for long keys (a count-min sketch of 4-bit counters, four
 * counters per key), with aging: after {@code 10 x capacity} increments every counter is halved,
 * so old popularity fades. This is the "TinyLFU" frequency filter: {@link XbzrlePageCache} admits
 * a new page only if it has been seen more often than the page it would evict.
 *
 * <p>Fixed memory (half a byte per counter, {@code 16 x capacity} counters rounded up to a power
 * of two), no allocation after construction, not thread-safe.
 */
final class FrequencySketch {
    private static final long RESET_MASK = 0x7777777777777777L;
    private static final long[] SEEDS = {
        0x9E3779B97F4A7C15L, 0xC2B2AE3D27D4EB4FL, 0x165667B19E3779F9L, 0xD6E8FEB86659FD93L,
    };

    private final long[] table; // 16 four-bit counters per long
    private final int counterMask;
    private final int sampleSize;
    private int additions;

    /** A sketch for a cache of about {@code capacity} entries (at least 1). */
    FrequencySketch(int capacity) {
        int cap = Math.max(1, capacity);
        int counters = Integer.highestOneBit(Math.min(cap, 1 << 22) * 16 - 1) << 1; // >= 16 per entry
        table = new long[Math.max(1, counters >>> 4)];
        counterMask = counters - 1;
        sampleSize = (int) Math.min(Integer.MAX_VALUE, 10L * cap);
    }

    /** The estimated number of recent accesses of {@code key}, 0 to 15. */
    int frequency(long key) {
        int min = 15;
        for (long seed : SEEDS) {
            int c = counterIndex(key, seed);
            int v = (int) (table[c >>> 4] >>> ((c & 15) << 2)) & 15;
            min = Math.min(min, v);
        }
        return min;
    }

    /** Counts one access of {@code key}. */
    void increment(long key) {
        boolean added = false;
        for (long seed : SEEDS) {
            int c = counterIndex(key, seed);
            int shift = (c & 15) << 2;
            long word = table[c >>> 4];
            if (((word >>> shift) & 15) != 15) {
                table[c >>> 4] = word + (1L << shift);
                added = true;
            }
        }
        if (added && ++additions >= sampleSize) {
            reset();
        }
    }

    /** Halves every counter (aging). */
    private void reset() {
        for (int i = 0; i < table.length; i++) {
            table[i] = (table[i] >>> 1) & RESET_MASK;
        }
        additions >>>= 1;
    }

    private int counterIndex(long key, long seed) {
        long h = (key + seed) * 0xBF58476D1CE4E5B9L;
        h ^= h >>> 31;
        h *= 0x94D049BB133111EBL;
        h ^= h >>> 29;
        return (int) h & counterMask;
    }
}
