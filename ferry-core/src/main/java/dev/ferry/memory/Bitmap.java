/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.util.Arrays;

/**
 * A fixed-size bitmap of pages, one bit per page, bit {@code i} in word {@code i / 64} at position {@code i % 64}
 * (least significant bit first). Not thread-safe: used by one thread at a time (the precopy loop's round map,
 * a receiver's map of pages present). {@link DirtyBitmap} is the concurrent variant the guest writes into.
 */
public final class Bitmap {
    private final long[] words;
    private final long size;

    public Bitmap(long size) {
        if (size < 0 || (size + 63) / 64 > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("bitmap size out of range: " + size);
        }
        this.size = size;
        this.words = new long[(int) ((size + 63) >>> 6)];
    }

    public long size() {
        return size;
    }

    /** The backing words; bit {@code i} is {@code (words[i >>> 6] >>> (i & 63)) & 1}. */
    public long[] words() {
        return words;
    }

    public boolean get(long i) {
        return (words[(int) (i >>> 6)] & (1L << i)) != 0;
    }

    public void set(long i) {
        words[(int) (i >>> 6)] |= 1L << i;
    }

    public void clear(long i) {
        words[(int) (i >>> 6)] &= ~(1L << i);
    }

    /** Sets bit {@code i} and returns whether it was clear before. */
    public boolean testAndSet(long i) {
        int w = (int) (i >>> 6);
        long bit = 1L << i;
        long old = words[w];
        words[w] = old | bit;
        return (old & bit) == 0;
    }

    public void setAll() {
        Arrays.fill(words, -1L);
        trimLastWord();
    }

    public void clearAll() {
        Arrays.fill(words, 0L);
    }

    /** ORs {@code other} into this bitmap. */
    public void or(Bitmap other) {
        if (other.size != size) {
            throw new IllegalArgumentException("bitmap sizes differ: " + size + " and " + other.size);
        }
        long[] o = other.words;
        for (int w = 0; w < words.length; w++) {
            words[w] |= o[w];
        }
    }

    public long cardinality() {
        long n = 0;
        for (long w : words) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Index of the first set bit at or after {@code from}, or -1 if none. */
    public long nextSetBit(long from) {
        if (from >= size) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long word = words[w] & (-1L << from);
        while (true) {
            if (word != 0) {
                long i = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return i < size ? i : -1;
            }
            if (++w == words.length) {
                return -1;
            }
            word = words[w];
        }
    }

    /** Index of the first clear bit at or after {@code from}, or -1 if none. */
    public long nextClearBit(long from) {
        if (from >= size) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long word = ~words[w] & (-1L << from);
        while (true) {
            if (word != 0) {
                long i = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return i < size ? i : -1;
            }
            if (++w == words.length) {
                return -1;
            }
            word = ~words[w];
        }
    }

    private void trimLastWord() {
        int tail = (int) (size & 63);
        if (tail != 0) {
            words[words.length - 1] &= (1L << tail) - 1;
        }
    }
}
