/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import dev.ferry.util.Units;
import java.util.Locale;

/** Numbers for people, always in the same locale (a report reads the same wherever it is made). */
final class Fmt {
    static final double MIB = 1024.0 * 1024.0;

    private Fmt() {
    }

    /** {@code 65,536}. */
    static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** {@code 1.5 GiB}, {@code 300 KiB}. */
    static String bytes(long n) {
        return Units.bytes(n);
    }

    /** {@code 850 ms}, {@code 10.0 s}, {@code 2 min 05 s}. */
    static String millis(double ms) {
        if (ms < 0) {
            return "unknown";
        }
        if (ms < 10 && ms != Math.rint(ms)) {
            return String.format(Locale.ROOT, "%.2f ms", ms);
        }
        if (ms < 1000) {
            return String.format(Locale.ROOT, "%.0f ms", ms);
        }
        if (ms < 120_000) {
            return String.format(Locale.ROOT, "%.1f s", ms / 1000);
        }
        long s = Math.round(ms / 1000);
        return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
    }

    /** A throughput in bytes per second as MiB/s. */
    static String rate(double bytesPerSecond) {
        return String.format(Locale.ROOT, "%.1f MiB/s", bytesPerSecond / MIB);
    }

    static String decimal(double v, int places) {
        return String.format(Locale.ROOT, "%,." + places + "f", v);
    }

    /** {@code 1,988.9 ms} for a precise downtime. */
    static String preciseMillis(double ms) {
        return ms < 0 ? "unknown" : String.format(Locale.ROOT, "%,.1f ms", ms);
    }

    /** A value from the statistics as it is, with thousands separators for integers. */
    static String raw(Object v) {
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof java.math.BigInteger) {
            return String.format(Locale.ROOT, "%,d", v);
        }
        if (v instanceof Number n) {
            double d = n.doubleValue();
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.format(Locale.ROOT, "%,d", (long) d)
                    : String.format(Locale.ROOT, "%,.3f", d).replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return String.valueOf(v);
    }
}
