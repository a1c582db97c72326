/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.bench.xbzrle;

import dev.ferry.xbzrle.XbzrleCodec;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * XBZRLE encode and decode per corpus pattern: one operation is one 4 KiB page, so the score in
 * ops/us times 4096 is MB/s. Pairs are generated in Java with make_pairs.py's patterns, or read
 * from {@code <dir>/<pattern>.bin} when {@code -Dxbzrle.pairs=<dir>} is set (make_pairs.py
 * output, as the C reference and {@code ferry bench xbzrle} use).
 *
 * <pre>java -jar ferry-bench/target/ferry-benchmarks.jar XbzrleCodecBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class XbzrleCodecBenchmark {
    static final int COUNT = 2048;
    static final int PAGE = PagePairs.PAGE;

    @Param({"sparse-word", "memtest", "scatter-1pct", "runs-5pct", "dense-25pct", "unchanged", "full"})
    public String pattern;

    private Arena arena;
    private MemorySegment pairs;
    private MemorySegment encoded;
    private MemorySegment page;
    private int[] lengths;
    private int[] decodable; // COUNT indices of pairs that encoded to a delta, cycling (empty if none)
    private int n;
    private final XbzrleCodec codec = new XbzrleCodec();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        arena = Arena.ofShared();
        String dir = System.getProperty("xbzrle.pairs");
        pairs = dir == null ? PagePairs.generate(pattern, COUNT, 20121104L, arena)
                : PagePairs.read(Path.of(dir, pattern + ".bin"), arena);
        n = (int) (pairs.byteSize() / (2 * PAGE));
        if (n != COUNT) {
            throw new IllegalStateException("the corpus must hold " + COUNT + " pairs (make_pairs.py PATTERN "
                    + COUNT + " OUT), not " + n);
        }
        encoded = arena.allocate((long) n * PAGE, 64);
        page = arena.allocate(PAGE, 64);
        lengths = new int[n];
        for (int i = 0; i < n; i++) {
            lengths[i] = codec.encode(pairs, (long) i * 2 * PAGE, pairs, (long) i * 2 * PAGE + PAGE, PAGE,
                    encoded, (long) i * PAGE, PAGE);
        }
        int[] withDelta = java.util.stream.IntStream.range(0, n).filter(i -> lengths[i] > 0).toArray();
        decodable = withDelta.length == 0 ? new int[0] : new int[COUNT];
        for (int k = 0; k < decodable.length; k++) {
            decodable[k] = withDelta[k % withDelta.length];
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(COUNT)
    public long encode() {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += codec.encode(pairs, (long) i * 2 * PAGE, pairs, (long) i * 2 * PAGE + PAGE, PAGE,
                    encoded, (long) i * PAGE, PAGE);
        }
        return s;
    }

    /**
     * Decodes deltas into one scratch page, as the C bench does: {@code COUNT} decodes, cycling
     * through the pairs that encoded to a delta. (Unchanged and full corpora have none: there the
     * benchmark does nothing and its score means nothing.)
     */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public long decode() {
        long s = 0;
        for (int i : decodable) {
            s += XbzrleCodec.decode(encoded, (long) i * PAGE, lengths[i], page, 0, PAGE);
        }
        return s;
    }
}
