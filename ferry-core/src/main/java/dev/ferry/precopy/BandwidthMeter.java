/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

/** Bytes per second recently sent, over windows of at least 100 ms, smoothed across windows. */
final class BandwidthMeter {
    private static final long WINDOW_NANOS = 100_000_000L;

    private long windowStart = System.nanoTime();
    private long windowBytes;
    private double rate = -1;

    void record(long bytes) {
        windowBytes += bytes;
        long now = System.nanoTime();
        long elapsed = now - windowStart;
        if (elapsed >= WINDOW_NANOS) {
            double r = windowBytes / (elapsed * 1e-9);
            rate = rate < 0 ? r : 0.5 * rate + 0.5 * r;
            windowStart = now;
            windowBytes = 0;
        }
    }

    /** Forgets time spent not sending (a pause between phases) so it does not count as slow sending. */
    void restart() {
        windowStart = System.nanoTime();
        windowBytes = 0;
    }

    /** Bytes per second, or -1 before the first window closed. */
    double bytesPerSecond() {
        return rate;
    }
}
