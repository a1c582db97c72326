/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.util;

import java.time.Duration;
import java.util.Locale;

/** Parsing and printing of sizes and durations as people write them: {@code 1G}, {@code 256MiB}, {@code 10s}. */
public final class Units {
    private Units() {
    }

    /**
     * Parses a size in bytes: a plain number, or a number with a binary suffix K, M, G, T (also KiB/KB, ...: all
     * powers of 1024, as QEMU reads them).
     *
     * @throws IllegalArgumentException naming the text when it is not a size
     */
    public static long parseSize(String text) {
        String s = text.trim();
        int end = 0;
        while (end < s.length() && (Character.isDigit(s.charAt(end)) || s.charAt(end) == '.')) {
            end++;
        }
        if (end == 0) {
            throw new IllegalArgumentException("not a size: '" + text + "' (expected e.g. 4096, 64M, 1G)");
        }
        String unit = s.substring(end).trim().toUpperCase(Locale.ROOT);
        long multiplier = switch (unit) {
            case "", "B" -> 1L;
            case "K", "KB", "KIB" -> 1L << 10;
            case "M", "MB", "MIB" -> 1L << 20;
            case "G", "GB", "GIB" -> 1L << 30;
            case "T", "TB", "TIB" -> 1L << 40;
            default -> throw new IllegalArgumentException("unknown size unit '" + s.substring(end) + "' in '" + text
                    + "' (use K, M, G or T)");
        };
        double value;
        try {
            value = Double.parseDouble(s.substring(0, end));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + text + "'");
        }
        double bytes = value * multiplier;
        if (bytes > Long.MAX_VALUE / 2) {
            throw new IllegalArgumentException("size too large: '" + text + "'");
        }
        return Math.round(bytes);
    }

    /**
     * Parses a duration: a number with a unit ms, s, m or h ({@code 500ms}, {@code 10s}, {@code 1.5m}); a bare
     * number is seconds.
     */
    public static Duration parseDuration(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        int end = 0;
        while (end < s.length() && (Character.isDigit(s.charAt(end)) || s.charAt(end) == '.')) {
            end++;
        }
        if (end == 0) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (expected e.g. 500ms, 10s, 2m)");
        }
        double value;
        try {
            value = Double.parseDouble(s.substring(0, end));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a duration: '" + text + "'");
        }
        double nanosPerUnit = switch (s.substring(end).trim()) {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "", "s" -> 1e9;
            case "m", "min" -> 60e9;
            case "h" -> 3600e9;
            default -> throw new IllegalArgumentException("unknown duration unit in '" + text
                    + "' (use ms, s, m or h)");
        };
        return Duration.ofNanos(Math.round(value * nanosPerUnit));
    }

    /** A byte count for people: {@code 1.5 GiB}, {@code 300 KiB}, {@code 12 B}. */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }
}
