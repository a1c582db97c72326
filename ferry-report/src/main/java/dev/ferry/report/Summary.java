/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import java.awt.Color;
import java.util.ArrayList;
import java.util.List;

/** The outcome in words and the key figures: the top of the HTML page and of the image. */
final class Summary {
    /** A key figure: a label, its value, and a note (may be empty). */
    record Figure(String label, String value, String note) {
    }

    final String headline;
    final String sentence;
    final Color color;
    final String cssClass;
    final List<Figure> figures;

    Summary(Stats s) {
        int rounds = s.rounds.size();
        String in = Fmt.millis(s.totalTimeMillis);
        switch (s.status) {
            case "completed" -> {
                headline = "Completed";
                cssClass = "completed";
                color = new Color(0x2E7D32);
                sentence = "Migrated in " + in + " over " + rounds + (rounds == 1 ? " round" : " rounds")
                        + ", with " + Fmt.millis(s.downtimeMillis) + " of downtime.";
            }
            case "cancelled" -> {
                headline = "Aborted";
                cssClass = "aborted";
                color = new Color(0xB26A00);
                sentence = "Aborted after " + in + (s.error == null ? "" : ": " + s.error)
                        + ". The guest kept running on the source.";
            }
            case "failed" -> {
                headline = "Failed";
                cssClass = "failed";
                color = new Color(0xC62828);
                sentence = "Failed after " + in + (s.error == null ? "" : ": " + s.error) + ".";
            }
            default -> {
                headline = "Status: " + s.status;
                cssClass = "active";
                color = new Color(0x1565C0);
                sentence = "The statistics were written while the migration was '" + s.status + "', after " + in
                        + ".";
            }
        }
        figures = figures(s);
    }

    private static List<Figure> figures(Stats s) {
        List<Figure> f = new ArrayList<>();
        f.add(new Figure("total time", Fmt.millis(s.totalTimeMillis), "setup " + Fmt.millis(s.setupTimeMillis)));
        long estimate = s.lastEstimateBeforePause();
        if (s.downtimeMillis >= 0) {
            f.add(new Figure("downtime", Fmt.preciseMillis(s.downtimeMillis),
                    estimate >= 0 ? "expected " + Fmt.millis(estimate) : ""));
        } else {
            f.add(new Figure("expected downtime", estimate >= 0 ? Fmt.millis(estimate) : "unknown",
                    "the guest was not paused"));
        }
        long total = s.ram("total");
        long transferred = s.ram("transferred");
        f.add(new Figure("sent", Fmt.bytes(transferred), total <= 0 ? ""
                : transferred == 0 ? "of " + Fmt.bytes(total) + " guest RAM"
                : Fmt.decimal((double) transferred / total, 2) + " × guest RAM (" + Fmt.bytes(total) + ")"));
        f.add(new Figure("rounds", Integer.toString(s.rounds.size()), s.ram("dirty-sync-count") + " dirty-log syncs"));
        f.add(new Figure("throughput", Fmt.decimal(s.ramDouble("mbps"), 1) + " Mbit/s", "over the whole migration"));
        long normal = s.ram("normal");
        long zero = s.ram("duplicate");
        f.add(new Figure("pages", Fmt.count(normal + zero), Fmt.count(normal) + " normal, " + Fmt.count(zero)
                + " zero"));
        if (!s.completed() && s.ram("remaining") > 0) {
            f.add(new Figure("remaining", Fmt.bytes(s.ram("remaining")), "when it ended"));
        }
        double maxThrottle = s.cpuThrottle;
        for (double v : s.timeline.cpuThrottle()) {
            maxThrottle = Math.max(maxThrottle, v);
        }
        if (maxThrottle > 0) {
            f.add(new Figure("vCPU throttle", Fmt.decimal(maxThrottle, 0) + " %", "auto-converge, at most"));
        }
        if (!s.xbzrle.isEmpty()) {
            Object rate = s.xbzrle.get("cache-miss-rate");
            f.add(new Figure("XBZRLE", Fmt.raw(s.xbzrle.getOrDefault("pages", 0)) + " cache hits",
                    rate instanceof Number n ? "cache miss rate " + Fmt.decimal(n.doubleValue() * 100, 1) + " %"
                            : ""));
        }
        return f;
    }
}
