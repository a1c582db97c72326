/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stats;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One round of a migration.
 *
 * @param iteration the round's number, 1 for the first full round
 * @param phase {@code bulk}, {@code precopy} or {@code stop-and-copy}
 * @param dirtyPages pages the round set out to send (all pages for the first round, the dirty-log sync's count
 *     after it)
 * @param pagesSent page records sent in the round
 * @param zeroPages of which zero pages
 * @param bytesSent bytes put on the wire in the round
 * @param durationMillis the round's duration
 * @param decision the policy's last answer in the round
 */
public record IterationStats(int iteration, String phase, long dirtyPages, long pagesSent, long zeroPages,
        long bytesSent, double durationMillis, String decision) {

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("iteration", iteration);
        m.put("phase", phase);
        m.put("dirty-pages", dirtyPages);
        m.put("pages-sent", pagesSent);
        m.put("zero-pages", zeroPages);
        m.put("bytes-sent", bytesSent);
        m.put("duration-ms", Math.round(durationMillis * 1000) / 1000.0);
        m.put("decision", decision);
        return m;
    }
}
