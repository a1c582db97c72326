/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.stats.Samples;
import java.util.LinkedHashMap;
import java.util.Map;

/** A primary's replication statistics: the checkpoints, their pauses and sizes, latencies, slabs, output. */
public final class ReplicationStats {
    private volatile String status = "seeding";
    private volatile String endReason;
    private volatile long checkpoints;
    private volatile long lastAcked;
    private final Samples pauseMillis = new Samples();
    private final Samples pages = new Samples();
    private final Samples bytes = new Samples();
    private final Samples sendMillis = new Samples();
    private final Samples ackMillis = new Samples();
    private volatile int slabsInUse;
    private volatile int slabsAllocated;
    private volatile long slabBytes;
    private volatile long slabGrowths;
    private volatile long slabReleases;
    private volatile long outputHeld;
    private volatile long outputReleased;
    private volatile boolean buffering;
    private volatile long intervalMillis;

    void status(String s) {
        status = s;
    }

    public String status() {
        return status;
    }

    void ended(String reason) {
        status = "ended";
        endReason = reason;
    }

    public String endReason() {
        return endReason;
    }

    void configure(long interval, boolean outputBuffering) {
        intervalMillis = interval;
        buffering = outputBuffering;
    }

    void checkpoint(long number, double pauseMs, long pageCount, long wireBytes, double sendMs, double ackMs,
            Slabs slabs) {
        checkpoints++;
        lastAcked = number;
        pauseMillis.add(pauseMs);
        pages.add(pageCount);
        bytes.add(wireBytes);
        sendMillis.add(sendMs);
        ackMillis.add(ackMs);
        slabsInUse = slabs.slabsInUse();
        slabsAllocated = slabs.slabCount();
        slabBytes = slabs.slabBytes();
        slabGrowths = slabs.allocations();
        slabReleases = slabs.releases();
    }

    void output(long held, long released) {
        outputHeld = held;
        outputReleased = released;
    }

    public long checkpoints() {
        return checkpoints;
    }

    public Samples pauseMillis() {
        return pauseMillis;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", status);
        if (endReason != null) {
            m.put("end-reason", endReason);
        }
        m.put("checkpoint-interval-ms", intervalMillis);
        m.put("output-buffering", buffering);
        m.put("checkpoints", checkpoints);
        m.put("last-acknowledged", lastAcked);
        m.put("pause-ms", pauseMillis.toMap());
        m.put("checkpoint-pages", pages.toMap());
        m.put("checkpoint-bytes", bytes.toMap());
        m.put("send-ms", sendMillis.toMap());
        m.put("ack-ms", ackMillis.toMap());
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("slab-size", slabBytes);
        s.put("in-use", slabsInUse);
        s.put("allocated", slabsAllocated);
        s.put("grown", slabGrowths);
        s.put("released", slabReleases);
        m.put("slabs", s);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("held-bytes", outputHeld);
        o.put("released-bytes", outputReleased);
        m.put("output", o);
        return m;
    }
}
