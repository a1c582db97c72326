/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Seeded page-access traces as a migration presents them to the XBZRLE cache, and a replay of a
 * trace through {@link XbzrlePageCache} and through {@link QemuDirectMappedCacheModel}, to compare
 * their miss rates (used by the tests and by {@code dev.ferry.bench.xbzrle.CacheMissRates}).
 *
 * <p>A trace is a sequence of rounds; a round is the set of pages found dirty at one dirty-bitmap
 * sync, sent in ascending page order, each page once (as the sender walks the bitmap). Every page
 * sent is looked up; a miss is put in the cache. A dirty sync separates rounds.
 */
public final class CacheTraces {
    private CacheTraces() {
    }

    /** A named trace: {@code rounds[r]} holds the pages sent in round r, ascending. */
    public record Trace(String name, String description, int pages, long[][] rounds) {
        /** Total page sends. */
        public long accesses() {
            long n = 0;
            for (long[] r : rounds) {
                n += r.length;
            }
            return n;
        }
    }

    /** Misses out of accesses. */
    public record Result(long accesses, long misses) {
        public double missRate() {
            return accesses == 0 ? 0 : (double) misses / accesses;
        }
    }

    /** Each round, every one of {@code pages} pages is dirty with probability {@code fraction}. */
    public static Trace uniform(long seed, int pages, int rounds, double fraction) {
        SplittableRandom r = new SplittableRandom(seed);
        long[][] out = new long[rounds][];
        for (int k = 0; k < rounds; k++) {
            long[] buf = new long[pages];
            int n = 0;
            for (int p = 0; p < pages; p++) {
                if (r.nextDouble() < fraction) {
                    buf[n++] = p;
                }
            }
            out[k] = Arrays.copyOf(buf, n);
        }
        return new Trace("uniform", String.format("%d pages, each dirty with p=%.3f per round, %d rounds",
                pages, fraction, rounds), pages, out);
    }

    /**
     * A hot set: {@code hotFraction} of the pages (scattered over the address space) take
     * {@code hotShare} of {@code writesPerRound} random writes per round, the rest go anywhere else;
     * a page written several times in a round is sent once.
     */
    public static Trace hotSet(long seed, int pages, int rounds, int writesPerRound, double hotFraction,
                               double hotShare) {
        SplittableRandom r = new SplittableRandom(seed);
        int hotCount = (int) (pages * hotFraction);
        int[] perm = new int[pages];
        for (int i = 0; i < pages; i++) {
            perm[i] = i;
        }
        for (int i = pages - 1; i > 0; i--) { // shuffle: the hot pages are perm[0 .. hotCount)
            int j = r.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        long[][] out = new long[rounds][];
        boolean[] dirty = new boolean[pages];
        for (int k = 0; k < rounds; k++) {
            Arrays.fill(dirty, false);
            for (int w = 0; w < writesPerRound; w++) {
                int p = r.nextDouble() < hotShare ? perm[r.nextInt(hotCount)]
                        : perm[hotCount + r.nextInt(pages - hotCount)];
                dirty[p] = true;
            }
            out[k] = ascending(dirty);
        }
        return new Trace("hot-set", String.format("%d pages, %.0f%% of %d writes/round to %.0f%% of them, %d rounds",
                pages, hotShare * 100, writesPerRound, hotFraction * 100, rounds), pages, out);
    }

    /** Every round sends all {@code pages} pages in order: a sequential sweep. */
    public static Trace sweep(int pages, int rounds) {
        long[] all = new long[pages];
        for (int p = 0; p < pages; p++) {
            all[p] = p;
        }
        long[][] out = new long[rounds][];
        Arrays.fill(out, all);
        return new Trace("sweep", String.format("all %d pages every round, in order, %d rounds", pages, rounds),
                pages, out);
    }

    private static long[] ascending(boolean[] dirty) {
        int n = 0;
        for (boolean d : dirty) {
            n += d ? 1 : 0;
        }
        long[] out = new long[n];
        int i = 0;
        for (int p = 0; p < dirty.length; p++) {
            if (dirty[p]) {
                out[i++] = p;
            }
        }
        return out;
    }

    /** Replays a trace through an {@link XbzrlePageCache} of {@code capacityBytes}. */
    public static Result replayFerry(Trace trace, long capacityBytes) {
        try (Arena arena = Arena.ofConfined();
             XbzrlePageCache cache = new XbzrlePageCache(capacityBytes)) {
            MemorySegment page = arena.allocate(XbzrlePageCache.PAGE);
            for (long[] round : trace.rounds()) {
                for (long p : round) {
                    if (cache.lookup(0, p) < 0) {
                        cache.put(0, p, page, 0);
                    }
                }
                cache.dirtySync();
            }
            return new Result(cache.hits() + cache.misses(), cache.misses());
        }
    }

    /** Replays a trace through the QEMU 7.2 model of {@code capacityBytes}. */
    public static Result replayQemu(Trace trace, long capacityBytes) {
        QemuDirectMappedCacheModel model = new QemuDirectMappedCacheModel(capacityBytes);
        for (long[] round : trace.rounds()) {
            for (long p : round) {
                model.access(p);
            }
            model.dirtySync();
        }
        return new Result(model.hits() + model.misses(), model.misses());
    }
}
