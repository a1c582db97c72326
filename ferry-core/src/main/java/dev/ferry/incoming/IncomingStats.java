/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.incoming;

import java.util.LinkedHashMap;
import java.util.Map;

/** What a destination received and how loading went; updated by the loader, read by the command. */
public final class IncomingStats {
    private final long startNanos = System.nanoTime();
    private volatile String status = "listening";
    private volatile long firstByteNanos = -1;
    private volatile long completeNanos = -1;
    private volatile long handoverNanos = -1;
    private volatile long bytes;
    private volatile long frames;
    private volatile long zeroPages;
    private volatile long normalPages;
    private volatile long xbzrlePages;
    private volatile long rounds;
    private volatile int capabilities;
    private volatile String error;
    private volatile String handoverAckFailure;
    private volatile long ramSize;

    void started() {
        firstByteNanos = System.nanoTime();
        status = "receiving";
    }

    void pages(long zero, long normal, long xbzrle) {
        zeroPages += zero;
        normalPages += normal;
        xbzrlePages += xbzrle;
    }

    void progress(long bytesRead, long framesRead) {
        bytes = bytesRead;
        frames = framesRead;
    }

    void round() {
        rounds++;
    }

    void capabilities(int caps) {
        capabilities = caps;
    }

    void ramSize(long size) {
        ramSize = size;
    }

    void completed() {
        completeNanos = System.nanoTime();
        status = "verified";
    }

    /** The handover was received but its confirmation could not be sent: the source keeps its copy paused. */
    void handoverAckFailed(String why) {
        handoverAckFailure = why;
    }

    /** Why the handover could not be confirmed to the source, or null if it was (or there was none). */
    public String handoverAckFailure() {
        return handoverAckFailure;
    }

    void handedOver() {
        handoverNanos = System.nanoTime();
        status = "loaded";
    }

    public void status(String s) {
        status = s;
    }

    public void error(String message) {
        error = message;
        status = "failed";
    }

    public String status() {
        return status;
    }

    public long bytes() {
        return bytes;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", status);
        if (error != null) {
            m.put("error-desc", error);
        }
        if (handoverAckFailure != null) {
            m.put("handover-ack-failed", handoverAckFailure);
        }
        m.put("ram-size", ramSize);
        m.put("bytes-received", bytes);
        m.put("frames", frames);
        m.put("zero-pages", zeroPages);
        m.put("normal-pages", normalPages);
        m.put("xbzrle-pages", xbzrlePages);
        m.put("rounds", rounds);
        m.put("capabilities", capabilities);
        if (firstByteNanos >= 0 && handoverNanos >= 0) {
            m.put("load-time-ms", (handoverNanos - firstByteNanos) / 1_000_000);
        }
        if (completeNanos >= 0 && handoverNanos >= 0) {
            m.put("verify-to-handover-ms", Math.round((handoverNanos - completeNanos) / 1e3) / 1e3);
        }
        m.put("uptime-ms", (System.nanoTime() - startNanos) / 1_000_000);
        return m;
    }
}
