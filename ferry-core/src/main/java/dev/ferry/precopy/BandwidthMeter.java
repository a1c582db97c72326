/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

/**
 * The rate at which the pipeline moves bytes while it has something to send: bytes over wall time, minus the time
 * the loop spent idle between empty rounds (so that a guest that dirties little does not look like a slow link).
 * Windows close after 100 ms; successive windows are smoothed. Wall time, not the time spent in calls, because
 * the background writer absorbs a few batches: a call returns long before its bytes are on the wire.
 */
final class BandwidthMeter {
    private static final long WINDOW_NANOS = 100_000_000L;
    private static final long MIN_FIRST_NANOS = 10_000_000L;

    private long windowStart = System.nanoTime();
    private long windowBytes;
    private long windowIdleNanos;
    private double rate = -1;

    /** Counts {@code bytes} handed to the sink. */
    void record(long bytes) {
        windowBytes += bytes;
        long now = System.nanoTime();
        long busy = now - windowStart - windowIdleNanos;
        if (now - windowStart >= WINDOW_NANOS && busy > 0) {
            double r = windowBytes / (busy * 1e-9);
            rate = rate < 0 ? r : 0.5 * rate + 0.5 * r;
            windowStart = now;
            windowBytes = 0;
            windowIdleNanos = 0;
        }
    }

    /** Excludes {@code nanos} the loop spent with nothing to send. */
    void idle(long nanos) {
        windowIdleNanos += nanos;
    }

    /** Bytes per second while sending, or -1 before there is a measurement. */
    double bytesPerSecond() {
        if (rate < 0) {
            long busy = System.nanoTime() - windowStart - windowIdleNanos;
            return busy >= MIN_FIRST_NANOS && windowBytes > 0 ? windowBytes / (busy * 1e-9) : -1;
        }
        return rate;
    }
}
