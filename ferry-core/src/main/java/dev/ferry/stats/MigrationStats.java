/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stats;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The statistics of one outgoing migration, under the field names of QEMU's {@code query-migrate}. The precopy loop
 * updates them once per batch; readers (the progress line, the JSON file, a control socket) take a consistent
 * {@link #toMap() view}. One object, rendered several ways.
 */
public final class MigrationStats {
    /** QEMU's migration statuses that Ferry uses. */
    public enum Status {
        SETUP("setup"),
        ACTIVE("active"),
        PRE_SWITCHOVER("pre-switchover"),
        DEVICE("device"),
        COMPLETED("completed"),
        FAILED("failed"),
        CANCELLED("cancelled");

        public final String label;

        Status(String label) {
            this.label = label;
        }

        /** Whether the migration has ended: completed, failed or cancelled. */
        public boolean terminal() {
            return this == COMPLETED || this == FAILED || this == CANCELLED;
        }
    }

    private final long startNanos = System.nanoTime();
    private final long pageSize;
    private final long totalRam;
    private String handoverUnconfirmed;
    private Status status = Status.SETUP;
    private long setupNanos = -1;
    private long endNanos = -1;
    private long downtimeNanos = -1;
    private long expectedDowntimeMillis = -1;
    private long transferred;
    private long remaining;
    private long duplicate;
    private long normal;
    private long normalBytes;
    private long dirtyPagesRate;
    private long dirtySyncCount;
    private long precopyBytes;
    private long downtimeBytes;
    private double bandwidth = -1;
    private String policy = "";
    private int cpuThrottle;
    private XbzrleCounters xbzrle;

    /**
     * XBZRLE figures under QEMU's xbzrle-cache names and with QEMU's (7.2) meanings, plus Ferry's. As in QEMU,
     * {@code pages} counts every page found in the cache (sent as a delta, unchanged and not sent, or overflowed and
     * sent whole), {@code bytes} the deltas' bytes plus a page for each overflow, {@code encoding-rate} the period's
     * {@code pages} times the page size over its {@code bytes}, and {@code cache-miss-rate} the period's misses
     * over all pages sent in it; a period is a round.
     */
    public static final class XbzrleCounters {
        long cacheSize;
        long bytes;
        long pages;
        long cacheMiss;
        long deltas;
        long overflow;
        long unchanged;
        long entries;
        long rejections;
        // The current round's figures, for the rates (QEMU computes them per period).
        long roundMisses;
        long roundPages;
        long roundBytes;
        double missRate;
        double encodingRate;
    }
    private String errorDesc;
    private final List<IterationStats> iterations = new ArrayList<>();
    /** Samples for charts: at most one per {@link #TIMELINE_INTERVAL_NANOS}, at most {@link #TIMELINE_MAX}. */
    private final List<Map<String, Object>> timeline = new ArrayList<>();
    private long lastSampleNanos;
    private static final long TIMELINE_INTERVAL_NANOS = 100_000_000L;
    private static final int TIMELINE_MAX = 36_000;
    private final Map<String, Object> extra = new LinkedHashMap<>();

    public MigrationStats(long totalRam, long pageSize) {
        this.totalRam = totalRam;
        this.pageSize = pageSize;
    }

    public synchronized void status(Status s) {
        status = s;
        if (s == Status.ACTIVE && setupNanos < 0) {
            setupNanos = System.nanoTime() - startNanos;
        }
        if (s.terminal()) {
            endNanos = System.nanoTime();
        }
    }

    public synchronized Status status() {
        return status;
    }

    public synchronized void policy(String description) {
        policy = description;
    }

    public synchronized void error(String description) {
        errorDesc = description;
    }

    public synchronized String error() {
        return errorDesc;
    }

    /** The migration completed but the destination did not confirm the handover: why (Ferry's own field). */
    public synchronized void handoverUnconfirmed(String why) {
        handoverUnconfirmed = why;
    }

    /** Counts a batch: its zero and normal pages and its bytes, in precopy or in the downtime. */
    public synchronized void batch(long zeroPages, long normalPages, long normalPageBytes, long wireBytes,
            boolean duringDowntime) {
        duplicate += zeroPages;
        normal += normalPages;
        normalBytes += normalPageBytes;
        transferred += wireBytes;
        if (duringDowntime) {
            downtimeBytes += wireBytes;
        } else {
            precopyBytes += wireBytes;
        }
    }

    /** Counts bytes that are not pages (setup, execution state, markers). */
    public synchronized void controlBytes(long wireBytes, boolean duringDowntime) {
        batch(0, 0, 0, wireBytes, duringDowntime);
    }

    public synchronized void estimate(long remainingBytes, long expectedDowntimeMs, double bytesPerSecond) {
        remaining = remainingBytes;
        expectedDowntimeMillis = expectedDowntimeMs;
        bandwidth = bytesPerSecond;
        long now = System.nanoTime();
        if (now - lastSampleNanos >= TIMELINE_INTERVAL_NANOS && timeline.size() < TIMELINE_MAX) {
            lastSampleNanos = now;
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("t-ms", (now - startNanos) / 1_000_000);
            s.put("transferred", transferred);
            s.put("remaining", remainingBytes);
            s.put("bandwidth", Math.round(Math.max(0, bytesPerSecond)));
            s.put("expected-downtime", expectedDowntimeMs);
            s.put("dirty-pages-rate", dirtyPagesRate);
            s.put("cpu-throttle-percentage", cpuThrottle);
            s.put("iteration", iterations.size() + 1);
            timeline.add(s);
        }
    }

    public synchronized void dirtySync(long pagesPerSecond) {
        dirtySyncCount++;
        dirtyPagesRate = pagesPerSecond;
    }

    public synchronized void iteration(IterationStats it) {
        iterations.add(it);
    }

    /** Counts one page the XBZRLE path handled: kind is "xbzrle", "miss", "overflow" or "unchanged". */
    public synchronized void xbzrlePage(String kind, long wireBytes) {
        XbzrleCounters x = xbzrle();
        long bytes;
        switch (kind) {
            case "xbzrle" -> {
                x.deltas++;
                bytes = wireBytes;
            }
            case "unchanged" -> {
                x.unchanged++;
                bytes = 0;
            }
            case "overflow" -> {
                x.overflow++;
                bytes = pageSize; // QEMU counts the page that goes instead
            }
            case "miss" -> {
                x.cacheMiss++;
                x.roundMisses++;
                return;
            }
            default -> throw new IllegalArgumentException(kind);
        }
        x.pages++;
        x.bytes += bytes;
        x.roundPages++;
        x.roundBytes += bytes;
    }

    private XbzrleCounters xbzrle() {
        if (xbzrle == null) {
            xbzrle = new XbzrleCounters();
        }
        return xbzrle;
    }

    /** The cache's size and occupancy. */
    public synchronized void xbzrleCache(long cacheSize, long entries, long rejections) {
        XbzrleCounters x = xbzrle();
        x.cacheSize = cacheSize;
        x.entries = entries;
        x.rejections = rejections;
    }

    /** Closes the rates' period at a round's end, in which {@code pagesSent} page records were sent. */
    public synchronized void xbzrleRoundEnd(long pagesSent) {
        XbzrleCounters x = xbzrle();
        if (pagesSent > 0) {
            x.missRate = (double) x.roundMisses / pagesSent;
            x.encodingRate = x.roundBytes == 0 ? 0 : (double) x.roundPages * pageSize / x.roundBytes;
        }
        x.roundMisses = 0;
        x.roundPages = 0;
        x.roundBytes = 0;
    }

    /** The auto-converge throttle now applied, in percent. */
    public synchronized void throttle(int percent) {
        cpuThrottle = percent;
    }

    public synchronized int throttle() {
        return cpuThrottle;
    }

    public synchronized void downtime(long nanos) {
        downtimeNanos = nanos;
    }

    /** Adds a section (e.g. "xbzrle-cache", "workload") to the rendered statistics. */
    public synchronized void section(String name, Object value) {
        extra.put(name, value);
    }

    public synchronized long transferred() {
        return transferred;
    }

    public synchronized long downtimeMillis() {
        return downtimeNanos < 0 ? -1 : downtimeNanos / 1_000_000;
    }

    public synchronized double downtimeMillisPrecise() {
        return downtimeNanos < 0 ? -1 : downtimeNanos / 1e6;
    }

    public synchronized long totalTimeMillis() {
        long end = endNanos >= 0 ? endNanos : System.nanoTime();
        return (end - startNanos) / 1_000_000;
    }

    public synchronized List<IterationStats> iterations() {
        return List.copyOf(iterations);
    }

    public synchronized long remaining() {
        return remaining;
    }

    public synchronized long expectedDowntimeMillis() {
        return expectedDowntimeMillis;
    }

    public synchronized double bandwidth() {
        return bandwidth;
    }

    public synchronized long dirtySyncCount() {
        return dirtySyncCount;
    }

    /** Megabits per second over the whole migration so far, as QEMU's mbps. */
    public synchronized double mbps() {
        long end = endNanos >= 0 ? endNanos : System.nanoTime();
        double seconds = Math.max(1e-9, (end - startNanos) * 1e-9);
        return transferred * 8 / seconds / 1e6;
    }

    /** The query-migrate view, plus Ferry's per-iteration list. */
    public synchronized Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", status.label);
        m.put("total-time", totalTimeMillis());
        if (downtimeNanos >= 0) {
            m.put("downtime", downtimeMillis());
            m.put("downtime-precise-ms", Math.round(downtimeNanos / 1e3) / 1e3);
        }
        m.put("expected-downtime", expectedDowntimeMillis);
        m.put("setup-time", setupNanos < 0 ? 0 : setupNanos / 1_000_000);
        m.put("cpu-throttle-percentage", cpuThrottle);
        if (errorDesc != null) {
            m.put("error-desc", errorDesc);
        }
        if (handoverUnconfirmed != null) {
            m.put("x-handover-unconfirmed", handoverUnconfirmed);
        }
        Map<String, Object> ram = new LinkedHashMap<>();
        ram.put("transferred", transferred);
        ram.put("remaining", remaining);
        ram.put("total", totalRam);
        ram.put("duplicate", duplicate);
        ram.put("normal", normal);
        ram.put("normal-bytes", normalBytes);
        ram.put("dirty-pages-rate", dirtyPagesRate);
        ram.put("mbps", Math.round(mbps() * 100) / 100.0);
        ram.put("dirty-sync-count", dirtySyncCount);
        ram.put("page-size", pageSize);
        ram.put("precopy-bytes", precopyBytes);
        ram.put("downtime-bytes", downtimeBytes);
        m.put("ram", ram);
        if (xbzrle != null) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("cache-size", xbzrle.cacheSize);
            x.put("bytes", xbzrle.bytes);
            x.put("pages", xbzrle.pages);
            x.put("cache-miss", xbzrle.cacheMiss);
            x.put("cache-miss-rate", Math.round(xbzrle.missRate * 10000) / 10000.0);
            x.put("encoding-rate", Math.round(xbzrle.encodingRate * 100) / 100.0);
            x.put("overflow", xbzrle.overflow);
            x.put("unchanged", xbzrle.unchanged);
            x.put("deltas", xbzrle.deltas);
            x.put("cache-entries", xbzrle.entries);
            x.put("cache-rejections", xbzrle.rejections);
            m.put("xbzrle-cache", x);
        }
        m.putAll(extra);
        m.put("policy", policy);
        List<Object> its = new ArrayList<>();
        for (IterationStats it : iterations) {
            its.add(it.toMap());
        }
        m.put("iterations", its);
        m.put("timeline", new ArrayList<>(timeline));
        return m;
    }
}
