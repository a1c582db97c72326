/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.stats.Samples;
import java.util.LinkedHashMap;
import java.util.Map;

/** A standby's statistics: checkpoints received and committed, and how replication ended. */
public final class StandbyStats {
    private volatile String status = "waiting";
    private volatile long committed;
    private volatile long received;
    private volatile long rejected;
    private volatile String endReason;
    private volatile boolean failedOver;
    private volatile long failoverMillis = -1;
    private final Samples pages = new Samples();
    private final Samples applyMillis = new Samples();
    private volatile long lastFrameNanos = System.nanoTime();

    void status(String s) {
        status = s;
    }

    void committed(long k, long pageCount, double applyMs) {
        committed = k;
        received++;
        pages.add(pageCount);
        applyMillis.add(applyMs);
    }

    void rejected() {
        rejected++;
    }

    void ended(String reason, boolean failover) {
        endReason = reason;
        failedOver = failover;
        status = failover ? "failing-over" : "ended";
    }

    public void failoverTook(long millis) {
        failoverMillis = millis;
        status = "running";
    }

    public long committed() {
        return committed;
    }

    public String endReason() {
        return endReason;
    }

    public boolean failedOver() {
        return failedOver;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", status);
        m.put("last-committed-checkpoint", committed);
        m.put("checkpoints-committed", received);
        m.put("checkpoints-rejected", rejected);
        m.put("checkpoint-pages", pages.toMap());
        m.put("apply-ms", applyMillis.toMap());
        if (endReason != null) {
            m.put("end-reason", endReason);
        }
        m.put("failed-over", failedOver);
        if (failoverMillis >= 0) {
            m.put("failover-ms", failoverMillis);
        }
        return m;
    }
}
