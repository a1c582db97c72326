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
import java.util.Locale;

/**
 * Does a migration destination decode XBZRLE deltas as fast as {@code ferry bench xbzrle} does? The bench decodes
 * between segments of one confined arena; a destination decodes from its frame buffer (a direct
 * {@link ByteBuffer}'s segment) into guest RAM (an mmap'd segment of a shared arena), in a JVM whose warm-up has
 * run both ends of the protocol on other kinds of segment. The memory access checks are shared JDK code, so their
 * profiles mix every kind a JVM has used: this measures both settings, one per JVM.
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
    private static final String[] MODES = {"bench", "bench+warmup", "destination-segments", "destination"};

    private DecodeAsTheDestination() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || !java.util.List.of(MODES).contains(args[1])) {
            System.err.println("usage: DecodeAsTheDestination PAIRS_FILE " + String.join("|", MODES) + " [ROUNDS]");
            System.exit(2);
        }
        boolean destination = args[1].startsWith("destination");
        boolean warmup = args[1].equals("destination") || args[1].equals("bench+warmup");
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        Arena confined = Arena.ofConfined();
        MemorySegment pairs;
        try (FileChannel ch = FileChannel.open(Path.of(args[0]))) {
            pairs = confined.allocate(ch.size(), 64);
            ByteBuffer b = pairs.asByteBuffer();
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read it all
            }
        }
        int n = (int) (pairs.byteSize() / (2 * PAGE));
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
        long sink = 0;
        double[] mbps = new double[rounds];
        for (int r = -3; r < rounds; r++) { // three untimed rounds first
            long reps = 0;
            long t0 = System.nanoTime();
            long t;
            do {
                for (int i = 0; i < n; i++) {
                    if (len[i] > 0) {
                        sink += XbzrleCodec.decode(delta, (long) i * PAGE, len[i], page, 0, PAGE);
                    }
                }
                reps++;
            } while ((t = System.nanoTime()) - t0 < 300_000_000L);
            if (r >= 0) {
                mbps[r] = (double) reps * decodable * PAGE / ((t - t0) / 1e9) / 1e6;
            }
        }
        Arrays.sort(mbps);
        System.out.printf(Locale.ROOT, "%s decode_MBps=%.0f (%.0f-%.0f over %d rounds)%s%n", args[1],
                mbps[rounds / 2], mbps[0], mbps[rounds - 1], rounds, sink == 42 ? " " : "");
    }
}
