/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.bench.xbzrle;

import dev.ferry.memory.AnonymousMemory;
import dev.ferry.precopy.Warmup;
import dev.ferry.xbzrle.XbzrleCodec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Does a migration destination decode XBZRLE deltas as fast as {@code ferry bench xbzrle} does? The bench decodes
 * between segments of one confined arena; a destination decodes from its frame buffer (a direct
 * {@link ByteBuffer}'s segment) into guest RAM (an mmap'd segment of a shared arena), in a JVM whose warm-up has
 * run both ends of the protocol on other kinds of segment. This measures both settings, and each difference alone,
 * one per JVM (docs/benchmarks.md has the figures: the kind of segment costs most of it).
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ferry-bench/target/ferry-benchmarks.jar \
 *     dev.ferry.bench.xbzrle.DecodeAsTheDestination PAIRS_FILE MODE [ROUNDS]</pre>
 *
 * MODE is {@code bench}, {@code destination}, or one of the two differences alone: {@code bench+warmup} (the
 * bench's segments after the destination's warm-up), {@code destination-segments} (no warm-up).
 * PAIRS_FILE is a corpus of the C reference's {@code make_pairs.py} (old page, new page, ...). Prints the median
 * decode throughput (MB/s of 4 KiB pages, as the bench) of ROUNDS timed rounds of 0.3 s, and their range.
 */
public final class DecodeAsTheDestination {
    private static final int PAGE = 4096;
    /**
     * bench: the segments of {@code ferry bench xbzrle}; destination: a destination's segments after its warm-up;
     * the other two, one of the two differences alone.
     */
    private static final List<String> MODES = List.of("bench", "bench+warmup", "destination-segments", "destination");
    /** Keeps the JIT from dropping decodes whose results are unused. */
    private static volatile long sink;

    private DecodeAsTheDestination() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 2 && args[2].matches("[1-9][0-9]{0,3}") ? Integer.parseInt(args[2]) : 9;
        if (args.length < 2 || args.length > 3 || !MODES.contains(args[1]) || (args.length == 3 && !args[2].equals(
                Integer.toString(rounds)))) {
            usage("usage: DecodeAsTheDestination PAIRS_FILE " + String.join("|", MODES) + " [ROUNDS 1-9999]");
        }
        boolean destination = args[1].startsWith("destination");
        boolean warmup = args[1].equals("destination") || args[1].equals("bench+warmup");
        Arena confined = Arena.ofConfined();
        MemorySegment pairs = null;
        try (FileChannel ch = FileChannel.open(Path.of(args[0]))) {
            pairs = confined.allocate(ch.size(), 64);
            ByteBuffer b = pairs.asByteBuffer();
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read it all
            }
        } catch (java.io.IOException e) {
            usage("DecodeAsTheDestination: cannot read " + args[0] + ": " + e);
        }
        long pairCount = pairs.byteSize() / (2 * PAGE);
        if (pairCount == 0 || pairCount > Integer.MAX_VALUE / PAGE) {
            usage("DecodeAsTheDestination: " + args[0] + " holds " + pairCount + " page pairs; 1 to "
                    + Integer.MAX_VALUE / PAGE + " are supported");
        }
        int n = (int) pairCount;
        MemorySegment encoded = confined.allocate((long) n * PAGE, 64);
        int[] len = new int[n];
        XbzrleCodec codec = new XbzrleCodec();
        for (int i = 0; i < n; i++) {
            len[i] = codec.encode(pairs, 2L * i * PAGE, pairs, (2L * i + 1) * PAGE, PAGE, encoded, (long) i * PAGE, PAGE);
        }
        MemorySegment delta;
        MemorySegment page;
        if (warmup) {
            Warmup.runFull(); // as `ferry incoming` does before it listens
        }
        if (destination) {
            delta = MemorySegment.ofBuffer(ByteBuffer.allocateDirect(n * PAGE));
            MemorySegment.copy(encoded, 0, delta, 0, (long) n * PAGE);
            page = AnonymousMemory.map(1 << 21, Arena.ofShared()).asSlice(PAGE, PAGE);
        } else {
            delta = encoded;
            page = confined.allocate(PAGE, 64);
        }
        int decodable = 0;
        for (int l : len) {
            decodable += l > 0 ? 1 : 0;
        }
        long sum = 0;
        double[] mbps = new double[rounds];
        for (int r = -3; r < rounds; r++) { // three untimed rounds first
            long reps = 0;
            long t0 = System.nanoTime();
            long t;
            do {
                for (int i = 0; i < n; i++) {
                    if (len[i] > 0) {
                        sum += XbzrleCodec.decode(delta, (long) i * PAGE, len[i], page, 0, PAGE);
                    }
                }
                reps++;
            } while ((t = System.nanoTime()) - t0 < 300_000_000L);
            if (r >= 0) {
                mbps[r] = (double) reps * decodable * PAGE / ((t - t0) / 1e9) / 1e6;
            }
        }
        sink = sum;
        Arrays.sort(mbps);
        System.out.printf(Locale.ROOT, "%s decode_MBps=%.0f (%.0f-%.0f over %d rounds)%n", args[1],
                mbps[rounds / 2], mbps[0], mbps[rounds - 1], rounds);
    }

    private static void usage(String line) {
        System.err.println(line);
        System.exit(2);
    }
}
