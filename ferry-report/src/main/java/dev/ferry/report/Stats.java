/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checked, typed view of one migration's statistics map (the {@code migration} section of a {@code --stats-json}
 * file, as {@code MigrationStats.toMap()} renders it). Every field is checked before use: input that is not Ferry
 * statistics, or has a field of the wrong type, is an {@link IllegalArgumentException} with a one-line message.
 * Sections that a migration may lack (downtime, iterations, timeline, xbzrle-cache) are simply empty.
 */
final class Stats {
    /** Top-level keys this class renders itself; any other section is shown as it is. */
    static final Set<String> KNOWN = Set.of("status", "total-time", "downtime", "downtime-precise-ms",
            "expected-downtime", "setup-time", "cpu-throttle-percentage", "error-desc", "ram", "xbzrle-cache",
            "policy", "iterations", "timeline");

    /** One round, as {@code IterationStats.toMap()} renders it. */
    record Round(int iteration, String phase, long dirtyPages, long pagesSent, long zeroPages, long bytesSent,
            double durationMillis, String decision) {
    }

    /** The timeline's samples as columns; {@code expectedDowntime} is NaN where the estimate was unknown (-1). */
    record Timeline(double[] seconds, double[] transferred, double[] remaining, double[] bandwidth,
            double[] expectedDowntime, double[] dirtyPagesRate, double[] cpuThrottle, int[] iteration) {
        int size() {
            return seconds.length;
        }
    }

    final Map<String, Object> raw;
    final String status;
    final long totalTimeMillis;
    /** The measured downtime in ms, or -1 if the migration did not reach stop-and-copy. */
    final double downtimeMillis;
    final long expectedDowntimeMillis;
    final long setupTimeMillis;
    final long cpuThrottle;
    final String error;
    final String policy;
    final Map<String, Object> ram;
    /** QEMU's xbzrle-cache section, empty when the migration did not use XBZRLE. */
    final Map<String, Object> xbzrle;
    final List<Round> rounds;
    final Timeline timeline;

    private Stats(Map<String, Object> m) {
        raw = m;
        status = (String) m.get("status");
        totalTimeMillis = (long) number(m, "total-time", 0);
        double downtime = number(m, "downtime-precise-ms", -1);
        downtimeMillis = downtime >= 0 ? downtime : number(m, "downtime", -1);
        expectedDowntimeMillis = (long) number(m, "expected-downtime", -1);
        setupTimeMillis = (long) number(m, "setup-time", 0);
        cpuThrottle = (long) number(m, "cpu-throttle-percentage", 0);
        error = text(m, "error-desc");
        policy = text(m, "policy");
        ram = section(m, "ram");
        xbzrle = m.containsKey("xbzrle-cache") ? section(m, "xbzrle-cache") : Map.of();
        rounds = rounds(m);
        timeline = timeline(m);
    }

    /**
     * Checks {@code m} and returns its view.
     *
     * @throws IllegalArgumentException if {@code m} is not a migration's statistics or a field has the wrong type
     */
    static Stats of(Map<String, Object> m) {
        if (m == null || !(m.get("status") instanceof String) || !(m.get("ram") instanceof Map)) {
            throw new IllegalArgumentException("not Ferry migration statistics: expected a map with 'status' and"
                    + " 'ram' (the 'migration' section of a --stats-json file)");
        }
        return new Stats(m);
    }

    long ram(String key) {
        return (long) number(ram, key, 0);
    }

    double ramDouble(String key) {
        return number(ram, key, 0);
    }

    long pageSize() {
        long p = ram("page-size");
        return p > 0 ? p : 4096;
    }

    boolean completed() {
        return "completed".equals(status);
    }

    /** The stop-and-copy round, if the migration reached it. */
    Round finalRound() {
        for (Round r : rounds) {
            if ("stop-and-copy".equals(r.phase())) {
                return r;
            }
        }
        return null;
    }

    /**
     * The last known expected downtime before the guest was paused (the estimate the policy acted on), or -1. Once
     * stop-and-copy starts the engine's estimate counts down to 0, so samples from that round are left out.
     */
    long lastEstimateBeforePause() {
        Round stop = finalRound();
        int limit = stop == null ? Integer.MAX_VALUE : stop.iteration();
        double last = -1;
        for (int i = 0; i < timeline.size(); i++) {
            if (timeline.iteration()[i] < limit && !Double.isNaN(timeline.expectedDowntime()[i])) {
                last = timeline.expectedDowntime()[i];
            }
        }
        return last >= 0 ? Math.round(last) : stop == null ? expectedDowntimeMillis : -1;
    }

    /** Sections other than the ones rendered specially: maps (e.g. a future "workload") and scalars. */
    Map<String, Object> others() {
        Map<String, Object> o = new LinkedHashMap<>();
        for (var e : raw.entrySet()) {
            if (!KNOWN.contains(e.getKey()) && e.getValue() != null) {
                o.put(e.getKey(), e.getValue());
            }
        }
        return o;
    }

    private static List<Round> rounds(Map<String, Object> m) {
        List<Map<String, Object>> items = list(m, "iterations");
        List<Round> out = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            Map<String, Object> it = items.get(i);
            String where = "iterations[" + i + "]";
            out.add(new Round((int) number(it, "iteration", i + 1, where), textOr(it, "phase", "", where),
                    (long) number(it, "dirty-pages", 0, where), (long) number(it, "pages-sent", 0, where),
                    (long) number(it, "zero-pages", 0, where), (long) number(it, "bytes-sent", 0, where),
                    number(it, "duration-ms", 0, where), textOr(it, "decision", "", where)));
        }
        return Collections.unmodifiableList(out);
    }

    private static Timeline timeline(Map<String, Object> m) {
        List<Map<String, Object>> items = list(m, "timeline");
        int n = items.size();
        double[] t = new double[n];
        double[] transferred = new double[n];
        double[] remaining = new double[n];
        double[] bandwidth = new double[n];
        double[] expected = new double[n];
        double[] dirtyRate = new double[n];
        double[] throttle = new double[n];
        int[] iteration = new int[n];
        for (int i = 0; i < n; i++) {
            Map<String, Object> s = items.get(i);
            String where = "timeline[" + i + "]";
            if (!(s.get("t-ms") instanceof Number)) {
                throw new IllegalArgumentException("bad Ferry statistics: " + where + " has no number 't-ms'");
            }
            t[i] = number(s, "t-ms", 0, where) / 1000.0;
            transferred[i] = number(s, "transferred", 0, where);
            remaining[i] = number(s, "remaining", 0, where);
            bandwidth[i] = number(s, "bandwidth", 0, where);
            double e = number(s, "expected-downtime", -1, where);
            expected[i] = e < 0 ? Double.NaN : e;
            dirtyRate[i] = number(s, "dirty-pages-rate", 0, where);
            throttle[i] = number(s, "cpu-throttle-percentage", 0, where);
            iteration[i] = (int) number(s, "iteration", 0, where);
        }
        return new Timeline(t, transferred, remaining, bandwidth, expected, dirtyRate, throttle, iteration);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException("bad Ferry statistics: '" + key + "' is " + describe(v)
                    + ", not a list");
        }
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof Map)) {
                throw new IllegalArgumentException("bad Ferry statistics: " + key + "[" + i + "] is "
                        + describe(l.get(i)) + ", not an object");
            }
        }
        return (List<Map<String, Object>>) l;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> section(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("bad Ferry statistics: '" + key + "' is " + describe(v)
                    + ", not an object");
        }
        return (Map<String, Object>) v;
    }

    private static double number(Map<String, Object> m, String key, double absent) {
        return number(m, key, absent, null);
    }

    private static double number(Map<String, Object> m, String key, double absent, String where) {
        Object v = m.get(key);
        if (v == null) {
            return absent;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("bad Ferry statistics: '" + (where == null ? "" : where + ".") + key
                + "' is " + describe(v) + ", not a number");
    }

    private static String text(Map<String, Object> m, String key) {
        return textOr(m, key, null, null);
    }

    private static String textOr(Map<String, Object> m, String key, String absent, String where) {
        Object v = m.get(key);
        if (v == null) {
            return absent;
        }
        if (v instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("bad Ferry statistics: '" + (where == null ? "" : where + ".") + key
                + "' is " + describe(v) + ", not a string");
    }

    private static String describe(Object v) {
        if (v == null) {
            return "missing";
        }
        if (v instanceof String s) {
            return "\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "a list";
        }
        return String.valueOf(v);
    }
}
