/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A dirty bitmap with exactly one writer thread and one collector thread, so that marking costs no atomic
 * instruction.
 *
 * <p>Exactness argument. The writer stores guest data, then {@link #mark} stores the bitmap word with release
 * semantics, so the data store is visible no later than the bit. The collector {@link #drainInto drains} a word
 * with an atomic get-and-set to zero and only then reads the pages it names. Either the collector's exchange sees
 * the writer's word store (then it also sees the data, which it reads after the exchange) or the word store lands
 * after the exchange (then the bit is set again and the next drain collects it). A write is therefore never lost.
 * The writer's read-modify-write may re-set bits the collector has just drained; that only re-sends a page.
 *
 * <p>The writer must mark after every write, even when the bit looks set already: skipping the store when the bit
 * is set would let the data store drift past a concurrent drain (store-load reordering) and lose the write.
 */
public final class DirtyBitmap {
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] words;
    private final long size;

    public DirtyBitmap(long size) {
        this.size = size;
        this.words = new long[(int) ((size + 63) >>> 6)];
    }

    public long size() {
        return size;
    }

    /** Marks page {@code i} dirty. Called by the single writer thread after its data store. */
    public void mark(long i) {
        int w = (int) (i >>> 6);
        WORDS.setRelease(words, w, words[w] | (1L << i));
    }

    /** Marks pages {@code [from, to)} dirty. Called by the single writer thread after its data stores. */
    public void markRange(long from, long to) {
        for (long i = from; i < to; i++) {
            mark(i);
        }
    }

    /**
     * Moves every set bit into {@code into} (OR) and clears it here. Returns the number of bits that were newly set
     * in {@code into}. Called by the collector thread; safe against the concurrent writer.
     */
    public long drainInto(Bitmap into) {
        long[] target = into.words();
        long added = 0;
        for (int w = 0; w < words.length; w++) {
            // A plain read of zero is safe to skip: a bit stored after it is collected by the next drain.
            if (words[w] != 0) {
                long bits = (long) WORDS.getAndSet(words, w, 0L);
                added += Long.bitCount(bits & ~target[w]);
                target[w] |= bits;
            }
        }
        return added;
    }

    /** ORs the words of this bitmap into {@code acc} (plain reads: an estimate while the writer runs). */
    public void peekInto(long[] acc) {
        for (int w = 0; w < words.length; w++) {
            acc[w] |= words[w];
        }
    }

    /** Clears every bit (collector side), e.g. when dirty logging starts. */
    public void clear() {
        for (int w = 0; w < words.length; w++) {
            if (words[w] != 0) {
                WORDS.getAndSet(words, w, 0L);
            }
        }
    }
}
