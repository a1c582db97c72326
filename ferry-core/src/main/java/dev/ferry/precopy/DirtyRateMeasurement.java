/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.stream.StreamFormat;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntBiFunction;

/**
 * Measures how a running guest dirties its memory (QEMU's calc-dirty-rate, extended) and predicts how a precopy
 * migration of it would go.
 *
 * <p>What is measured, over the period: the working-set curve W(t), the number of distinct pages written within t,
 * at several t (a sync at the start, then peeks at 1/16, 1/8, 1/4, 1/2 and the whole period); how many pages are
 * zero (what the first round costs); and, for a sample of the pages written, what an XBZRLE delta against their
 * earlier content would cost. A dirty rate alone cannot tell a guest that rewrites the same 100 MiB a thousand
 * times a second from one that writes 100 MiB of new pages each second; W(t) can.
 *
 * <p>The prediction simulates the rounds: the first sends every page (zero pages cost a record header), each later
 * round sends the pages written during the one before (W of its duration), at the given bandwidth; the migration
 * converges when a round would take no longer than the downtime limit.
 */
public final class DirtyRateMeasurement {
    private static final int SAMPLE_PAGES = 512;
    private static final int MAX_ROUNDS = 30;
    private static final double[] FRACTIONS = {1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0};

    /** W(t): distinct pages written within {@code seconds[i]} was {@code pages[i]}. */
    public record WorkingSet(double[] seconds, long[] pages) {
        /** Pages written within {@code t} seconds: interpolated, extended past the period at the last rate. */
        public double at(double t) {
            if (t <= 0) {
                return 0;
            }
            if (t <= seconds[0]) {
                return pages[0] * t / seconds[0];
            }
            for (int i = 1; i < seconds.length; i++) {
                if (t <= seconds[i]) {
                    double f = (t - seconds[i - 1]) / (seconds[i] - seconds[i - 1]);
                    return pages[i - 1] + f * (pages[i] - pages[i - 1]);
                }
            }
            int n = seconds.length - 1;
            double slope = (pages[n] - pages[n - 1]) / (seconds[n] - seconds[n - 1]);
            return pages[n] + slope * (t - seconds[n]);
        }
    }

    /** The prediction for one way of migrating. */
    public record Prediction(boolean converges, double seconds, int rounds, double downtimeMillis, double bytes,
            String reason) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("converges", converges);
            if (converges) {
                m.put("total-time-ms", Math.round(seconds * 1000));
                m.put("rounds", rounds);
                m.put("downtime-ms", Math.round(downtimeMillis));
                m.put("bytes", Math.round(bytes));
            }
            m.put("reason", reason);
            return m;
        }
    }

    private final WorkingSet workingSet;
    private final double periodSeconds;
    private final long totalPages;
    private final long zeroPages;
    private final double xbzrleBytesPerPage;
    private final int sampled;

    private DirtyRateMeasurement(WorkingSet w, double period, long totalPages, long zeroPages, double xbzrleBpp,
            int sampled) {
        this.workingSet = w;
        this.periodSeconds = period;
        this.totalPages = totalPages;
        this.zeroPages = zeroPages;
        this.xbzrleBytesPerPage = xbzrleBpp;
        this.sampled = sampled;
    }

    /**
     * Measures {@code guest} (running) for {@code period}. {@code delta} gives the cost in bytes of an XBZRLE delta
     * of the page in the second segment against the first (or a negative number when it would not fit), or null
     * when XBZRLE is not to be estimated. The guest's dirty log is synced (cleared): do not measure during a
     * migration.
     */
    public static DirtyRateMeasurement measure(Guest guest, Duration period,
            ToIntBiFunction<MemorySegment, MemorySegment> delta) throws InterruptedException {
        List<RamBlock> blocks = guest.ramBlocks();
        Bitmap[] scratch = new Bitmap[blocks.size()];
        long total = 0;
        for (int b = 0; b < blocks.size(); b++) {
            scratch[b] = new Bitmap(blocks.get(b).pages());
            total += blocks.get(b).pages();
        }
        try (Arena arena = Arena.ofConfined()) {
            // Sample pages to watch for XBZRLE: spread evenly over RAM; their content now is the "old" page.
            int n = (int) Math.min(SAMPLE_PAGES, total);
            int[] sampleBlock = new int[n];
            long[] samplePage = new long[n];
            MemorySegment old = arena.allocate((long) n * Pages.SIZE);
            MemorySegment now = arena.allocate(Pages.SIZE);
            guest.dirtyLog().start();
            for (int b = 0; b < blocks.size(); b++) {
                guest.dirtyLog().sync(b, scratch[b]);
                scratch[b].clearAll();
            }
            for (int i = 0; i < n; i++) {
                long global = total * i / n;
                int b = 0;
                while (global >= blocks.get(b).pages()) {
                    global -= blocks.get(b).pages();
                    b++;
                }
                sampleBlock[i] = b;
                samplePage[i] = global;
                MemorySegment.copy(blocks.get(b).memory(), global << Pages.SHIFT, old, (long) i * Pages.SIZE,
                        Pages.SIZE);
            }
            long start = System.nanoTime();
            double[] seconds = new double[FRACTIONS.length];
            long[] pages = new long[FRACTIONS.length];
            double periodSeconds = period.toNanos() * 1e-9;
            for (int i = 0; i < FRACTIONS.length; i++) {
                long due = start + (long) (period.toNanos() * FRACTIONS[i]);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                seconds[i] = (System.nanoTime() - start) * 1e-9;
                long dirty = 0;
                for (int b = 0; b < blocks.size(); b++) {
                    long p = guest.dirtyLog().peek(b, scratch[b]);
                    if (p < 0) {
                        // The backend cannot peek: sync instead (the curve then has only this point's value).
                        guest.dirtyLog().sync(b, scratch[b]);
                        p = scratch[b].cardinality();
                    }
                    dirty += p;
                }
                pages[i] = dirty;
            }
            // Zero pages now: what the first round will send as headers only.
            long zero = 0;
            for (RamBlock b : blocks) {
                for (long p = 0; p < b.pages(); p++) {
                    if (Pages.isZero(b.memory(), p << Pages.SHIFT)) {
                        zero++;
                    }
                }
            }
            // XBZRLE: encode the sampled pages that were written against their content at the start.
            double xbzrle = -1;
            int changed = 0;
            if (delta != null) {
                for (int b = 0; b < blocks.size(); b++) {
                    guest.dirtyLog().sync(b, scratch[b]);
                }
                long bytes = 0;
                for (int i = 0; i < n; i++) {
                    if (!scratch[sampleBlock[i]].get(samplePage[i])) {
                        continue;
                    }
                    changed++;
                    MemorySegment.copy(blocks.get(sampleBlock[i]).memory(), samplePage[i] << Pages.SHIFT, now, 0,
                            Pages.SIZE);
                    int len = delta.applyAsInt(old.asSlice((long) i * Pages.SIZE, Pages.SIZE), now);
                    // A delta that does not fit is sent as a normal page.
                    bytes += StreamFormat.RECORD_HEADER + (len < 0 ? Pages.SIZE : 2 + len);
                }
                if (changed > 0) {
                    xbzrle = (double) bytes / changed;
                }
            }
            return new DirtyRateMeasurement(new WorkingSet(seconds, pages), periodSeconds, total, zero, xbzrle,
                    changed);
        }
    }

    public WorkingSet workingSet() {
        return workingSet;
    }

    /** QEMU's figure: MB/s of distinct pages written over the whole period. */
    public double dirtyRateMBps() {
        int last = workingSet.pages().length - 1;
        return workingSet.pages()[last] * (double) Pages.SIZE / workingSet.seconds()[last] / 1e6;
    }

    /** Predicts a migration at {@code bandwidth} bytes/s with a {@code downtimeLimitMillis} limit. */
    public Prediction predict(double bandwidth, long downtimeLimitMillis, boolean xbzrle) {
        if (xbzrle && xbzrleBytesPerPage < 0) {
            return new Prediction(false, 0, 0, 0, 0, "no sampled page was written: XBZRLE's cost is unknown");
        }
        double normalCost = Pages.SIZE + StreamFormat.RECORD_HEADER;
        double resendCost = xbzrle ? xbzrleBytesPerPage : normalCost;
        double limit = downtimeLimitMillis / 1000.0;
        double bulk = (totalPages - zeroPages) * normalCost + zeroPages * (double) StreamFormat.RECORD_HEADER;
        double t = bulk / bandwidth;
        double elapsed = t;
        double bytes = bulk;
        double previousDirty = Double.MAX_VALUE;
        for (int round = 2; round <= MAX_ROUNDS; round++) {
            double dirty = Math.min(totalPages, workingSet.at(t));
            double cost = dirty * resendCost;
            double duration = cost / bandwidth;
            if (duration <= limit) {
                return new Prediction(true, elapsed + duration, round, duration * 1000, bytes + cost,
                        String.format(java.util.Locale.ROOT, "the last round's %.0f dirty pages take %.0f ms at %.0f"
                                + " MB/s", dirty, duration * 1000, bandwidth / 1e6));
            }
            if (dirty >= previousDirty * 0.99 && round > 3) {
                return new Prediction(false, 0, round, 0, 0, String.format(java.util.Locale.ROOT, "each round"
                        + " leaves %.0f dirty pages (%.0f MB), which take %.0f ms to send at %.0f MB/s, more than"
                        + " the %d ms allowed", dirty, cost / 1e6, duration * 1000, bandwidth / 1e6,
                        downtimeLimitMillis));
            }
            previousDirty = dirty;
            t = duration;
            elapsed += duration;
            bytes += cost;
        }
        return new Prediction(false, 0, MAX_ROUNDS, 0, 0, "still not within the downtime limit after "
                + MAX_ROUNDS + " rounds");
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("calc-time", Math.round(periodSeconds * 1000) / 1000.0);
        m.put("dirty-rate", Math.round(dirtyRateMBps() * 10) / 10.0);
        List<Map<String, Object>> curve = new ArrayList<>();
        for (int i = 0; i < workingSet.seconds().length; i++) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("ms", Math.round(workingSet.seconds()[i] * 1000));
            p.put("pages", workingSet.pages()[i]);
            curve.add(p);
        }
        m.put("working-set", curve);
        m.put("total-pages", totalPages);
        m.put("zero-pages", zeroPages);
        if (xbzrleBytesPerPage >= 0) {
            m.put("xbzrle-bytes-per-page", Math.round(xbzrleBytesPerPage * 10) / 10.0);
            m.put("xbzrle-sampled-pages", sampled);
        }
        return m;
    }
}
