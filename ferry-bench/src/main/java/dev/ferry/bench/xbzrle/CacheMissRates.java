/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.bench.xbzrle;

import dev.ferry.xbzrle.CacheTraces;
import java.util.List;
import java.util.Locale;

/**
 * Prints the XBZRLE cache miss-rate table: Ferry's {@code XbzrlePageCache} against the model of
 * QEMU 7.2's direct-mapped cache, on the same seeded traces, at a power-of-two capacity (where
 * both have the same number of slots) and at one that is not (QEMU rounds it down).
 *
 * <pre>java -cp ferry-bench/target/ferry-benchmarks.jar dev.ferry.bench.xbzrle.CacheMissRates</pre>
 */
public final class CacheMissRates {
    private CacheMissRates() {
    }

    public static void main(String[] args) {
        long[] capacities = {32L << 20, 48L << 20};
        List<CacheTraces.Trace> traces = List.of(
                CacheTraces.uniform(1, 65536, 30, 0.125),
                CacheTraces.hotSet(2, 65536, 30, 8192, 0.10, 0.90),
                CacheTraces.sweep(12288, 30));
        System.out.println("| trace | cache | accesses | QEMU 7.2 misses | Ferry misses | QEMU miss rate | Ferry miss rate |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        for (long cap : capacities) {
            for (CacheTraces.Trace t : traces) {
                CacheTraces.Result q = CacheTraces.replayQemu(t, cap);
                CacheTraces.Result f = CacheTraces.replayFerry(t, cap);
                System.out.println(String.format(Locale.ROOT, "| %s | %d MiB | %d | %d | %d | %.2f%% | %.2f%% |",
                        t.name(), cap >> 20, t.accesses(), q.misses(), f.misses(), 100 * q.missRate(),
                        100 * f.missRate()));
            }
        }
        System.out.println();
        for (CacheTraces.Trace t : traces) {
            System.out.println("- " + t.name() + ": " + t.description());
        }
    }
}
