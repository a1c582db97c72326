/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stats;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The most recent measurements of one quantity (up to 65536), with their percentiles; the maximum and count cover
 * all of them. Thread-safe; recording allocates nothing.
 */
public final class Samples {
    private static final int CAPACITY = 1 << 16;
    private final double[] ring = new double[CAPACITY];
    private long count;
    private double max = Double.NEGATIVE_INFINITY;
    private double sum;

    public synchronized void add(double v) {
        ring[(int) (count++ & (CAPACITY - 1))] = v;
        max = Math.max(max, v);
        sum += v;
    }

    public synchronized long count() {
        return count;
    }

    /** The {@code p}-th percentile (0..100) of the recent samples, or 0 with none. */
    public synchronized double percentile(double p) {
        int n = (int) Math.min(count, CAPACITY);
        if (n == 0) {
            return 0;
        }
        double[] sorted = Arrays.copyOf(ring, n);
        Arrays.sort(sorted);
        int i = (int) Math.ceil(p / 100 * n) - 1;
        return sorted[Math.max(0, Math.min(n - 1, i))];
    }

    /** {@code count, mean, p50, p99, max}, rounded to microseconds when the unit is milliseconds. */
    public synchronized Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", count);
        m.put("mean", count == 0 ? 0 : round(sum / count));
        m.put("p50", round(percentile(50)));
        m.put("p99", round(percentile(99)));
        m.put("max", count == 0 ? 0 : round(max));
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
