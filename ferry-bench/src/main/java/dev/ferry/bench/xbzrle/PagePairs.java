/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.bench.xbzrle;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Corpora of 4 KiB page pairs (old | new), generated with the patterns of the C reference's
 * make_pairs.py (same shapes, Java's seeded generator, so not the same bytes), or read from a
 * file written by make_pairs.py.
 */
public final class PagePairs {
    public static final int PAGE = 4096;

    /** The corpus patterns, as make_pairs.py names them. */
    public static final String[] PATTERNS = {
        "sparse-word", "memtest", "scatter-1pct", "runs-5pct", "dense-25pct", "unchanged", "full",
    };

    private PagePairs() {
    }

    /** {@code count} pairs of {@code pattern} in a new segment of {@code arena}. */
    public static MemorySegment generate(String pattern, int count, long seed, Arena arena) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment out = arena.allocate((long) count * 2 * PAGE, 64);
        byte[] text = "abcdefgh \n\0\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] old = new byte[PAGE];
        for (int i = 0; i < count; i++) {
            if (r.nextBoolean()) {
                r.nextBytes(old);
            } else {
                for (int k = 0; k < PAGE; k++) {
                    old[k] = text[r.nextInt(text.length)];
                }
            }
            byte[] cur = old.clone();
            switch (pattern) {
                case "sparse-word" -> {
                    for (int o = 0; o < PAGE; o += 1024) {
                        cur[o]++;
                    }
                }
                case "memtest" -> cur[0]++;
                case "scatter-1pct" -> scatter(r, cur, PAGE / 100);
                case "dense-25pct" -> scatter(r, cur, PAGE / 4);
                case "runs-5pct" -> {
                    int each = PAGE * 5 / 100 / 8;
                    for (int k = 0; k < 8; k++) {
                        int s = r.nextInt(PAGE - each);
                        for (int o = s; o < s + each; o++) {
                            cur[o] ^= (byte) (1 + r.nextInt(255));
                        }
                    }
                }
                case "unchanged" -> { }
                case "full" -> r.nextBytes(cur);
                default -> throw new IllegalArgumentException("unknown pattern " + pattern);
            }
            MemorySegment.copy(old, 0, out, ValueLayout.JAVA_BYTE, (long) i * 2 * PAGE, PAGE);
            MemorySegment.copy(cur, 0, out, ValueLayout.JAVA_BYTE, (long) i * 2 * PAGE + PAGE, PAGE);
        }
        return out;
    }

    /** {@code n} distinct bytes flipped to another value. */
    private static void scatter(SplittableRandom r, byte[] p, int n) {
        boolean[] seen = new boolean[p.length];
        for (int k = 0; k < n; ) {
            int o = r.nextInt(p.length);
            if (!seen[o]) {
                seen[o] = true;
                p[o] ^= (byte) (1 + r.nextInt(255));
                k++;
            }
        }
    }

    /** A make_pairs.py corpus file, read into a new segment of {@code arena}. */
    public static MemorySegment read(Path file, Arena arena) throws IOException {
        long size = Files.size(file);
        if (size == 0 || size % (2 * PAGE) != 0) {
            throw new IOException(file + ": size " + size + " is not a positive multiple of " + 2 * PAGE);
        }
        MemorySegment out = arena.allocate(size, 64);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            var bb = out.asByteBuffer();
            while (bb.hasRemaining()) {
                if (ch.read(bb) < 0) {
                    throw new IOException(file + ": short read");
                }
            }
        }
        return out;
    }
}
