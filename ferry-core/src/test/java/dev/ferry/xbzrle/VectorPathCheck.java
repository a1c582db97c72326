/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Run in a JVM of its own by {@link VectorWidthsTest} (with vectors of a chosen width): encodes seeded 4096-byte
 * pages, from one changed byte to every byte, at random limits, and compares every result with the naive encoder.
 * Prints {@code vector BITS bits: N pages identical} or {@code scalar: N pages identical} and exits 0, or prints
 * the first difference and exits 1.
 */
final class VectorPathCheck {
    private VectorPathCheck() {
    }

    public static void main(String[] args) {
        XbzrleCodec codec = new XbzrleCodec();
        SplittableRandom r = new SplittableRandom(11);
        int pages = 4000;
        for (int t = 0; t < pages; t++) {
            byte[] old = new byte[4096];
            r.nextBytes(old);
            byte[] cur = old.clone();
            int changes = t % 7 == 0 ? 4096 : r.nextInt(t % 3 == 0 ? 600 : 40);
            for (int c = 0; c < changes; c++) {
                int at = changes == 4096 ? c : r.nextInt(4096);
                int len = 1 + r.nextInt(r.nextInt(4) == 0 ? 100 : 6);
                for (int i = at; i < Math.min(4096, at + len); i++) {
                    cur[i] ^= (byte) (1 + r.nextInt(255));
                }
            }
            int limit = r.nextInt(3) == 0 ? r.nextInt(4200) : 4096;
            byte[] want = new byte[limit];
            byte[] got = new byte[limit];
            int wantLen = NaiveXbzrle.encode(old, cur, 4096, want, limit);
            int gotLen;
            try (Arena arena = Arena.ofConfined()) { // the vector path takes pages in native memory
                MemorySegment c = arena.allocate(4096);
                MemorySegment d = arena.allocate(Math.max(1, limit));
                MemorySegment.copy(cur, 0, c, ValueLayout.JAVA_BYTE, 0, 4096);
                gotLen = codec.encode(MemorySegment.ofArray(old), 0, c, 0, 4096, d, 0, limit);
                MemorySegment.copy(d, ValueLayout.JAVA_BYTE, 0, got, 0, limit);
            }
            if (gotLen != wantLen || (wantLen > 0 && !Arrays.equals(got, 0, wantLen, want, 0, wantLen))) {
                System.out.println("page " + t + " (" + changes + " changes, limit " + limit + "): " + gotLen
                        + " bytes, the naive encoder " + wantLen);
                System.exit(1);
            }
        }
        System.out.println((codec.vectorPages() ? "vector " + VectorPageEncoder.bits() + " bits" : "scalar") + ": "
                + pages + " pages identical");
    }
}
