/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Keeps the bytes put on the wire under {@code max-bandwidth}: a token bucket with a burst of 50 ms worth, whose
 * rate is read at every call so that a changed parameter takes effect at once.
 */
final class RateLimiter {
    private final LongSupplier bytesPerSecond;
    private long lastNanos = System.nanoTime();
    private double tokens;

    RateLimiter(LongSupplier bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
    }

    /** Waits until {@code bytes} may be sent. */
    void acquire(long bytes) {
        long rate = bytesPerSecond.getAsLong();
        long now = System.nanoTime();
        if (rate <= 0) {
            lastNanos = now;
            tokens = 0;
            return;
        }
        double burst = rate * 0.05;
        tokens = Math.min(burst, tokens + (now - lastNanos) * 1e-9 * rate);
        lastNanos = now;
        tokens -= bytes;
        if (tokens < 0) {
            long waitNanos = (long) (-tokens / rate * 1e9);
            long deadline = now + waitNanos;
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                LockSupport.parkNanos(left);
            }
            lastNanos = deadline;
            tokens = 0;
        }
    }
}
