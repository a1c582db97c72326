/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.util;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A name with {@code key=value} options, as the command line writes workloads and policies:
 * {@code memtest,start=1M,end=100M} or {@code downtime,timeout=10s,on-timeout=abort}. Every option must be read;
 * {@link #requireAllUsed} names those that were not, so that a misspelt option is an error, not silently ignored.
 */
public final class Options {
    private final String name;
    private final Map<String, String> values;
    private final Set<String> used = new TreeSet<>();

    private Options(String name, Map<String, String> values) {
        this.name = name;
        this.values = values;
    }

    public static Options parse(String spec) {
        String[] parts = spec.split(",", -1);
        String name = parts[0].trim();
        if (name.isEmpty()) {
            throw new IllegalArgumentException("missing name in '" + spec + "'");
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim();
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("option '" + p + "' of '" + name + "' is not key=value");
            }
            String key = p.substring(0, eq).trim();
            if (values.put(key, p.substring(eq + 1).trim()) != null) {
                throw new IllegalArgumentException("option '" + key + "' of '" + name + "' given twice");
            }
        }
        return new Options(name, values);
    }

    public String name() {
        return name;
    }

    public Map<String, String> values() {
        return Collections.unmodifiableMap(values);
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public String string(String key, String fallback) {
        used.add(key);
        return values.getOrDefault(key, fallback);
    }

    public long size(String key, long fallback) {
        String v = string(key, null);
        return v == null ? fallback : wrap(key, () -> Units.parseSize(v));
    }

    public Duration duration(String key, Duration fallback) {
        String v = string(key, null);
        return v == null ? fallback : wrap(key, () -> Units.parseDuration(v));
    }

    public long integer(String key, long fallback) {
        String v = string(key, null);
        return v == null ? fallback : wrap(key, () -> Long.parseLong(v));
    }

    /** A fraction in [0, 1], written as 0.1 or 10%. */
    public double fraction(String key, double fallback) {
        String v = string(key, null);
        if (v == null) {
            return fallback;
        }
        double f = wrap(key, () -> v.endsWith("%") ? Double.parseDouble(v.substring(0, v.length() - 1)) / 100
                : Double.parseDouble(v));
        if (!(f >= 0 && f <= 1)) {
            throw new IllegalArgumentException("option '" + key + "' of '" + name + "' must be between 0 and 1: " + v);
        }
        return f;
    }

    /** Fails naming every option that no one read. */
    public void requireAllUsed(String known) {
        Set<String> unused = new TreeSet<>(values.keySet());
        unused.removeAll(used);
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException("unknown option" + (unused.size() > 1 ? "s " : " ")
                    + String.join(", ", unused) + " for '" + name + "' (known: " + known + ")");
        }
    }

    private <T> T wrap(String key, java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("option '" + key + "' of '" + name + "': " + e.getMessage());
        }
    }
}
