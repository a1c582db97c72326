/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

/**
 * The migration parameters (QEMU's names): {@code downtime-limit} in milliseconds (default 300) and
 * {@code max-bandwidth} in bytes per second (0: unlimited). They may be changed while a migration runs; the loop
 * reads them at every batch.
 */
public final class MigrationParameters {
    public static final long DEFAULT_DOWNTIME_LIMIT_MS = 300;
    public static final long MAX_DOWNTIME_LIMIT_MS = 2_000_000;

    private volatile long downtimeLimitMillis = DEFAULT_DOWNTIME_LIMIT_MS;
    private volatile long maxBandwidth;

    public long downtimeLimitMillis() {
        return downtimeLimitMillis;
    }

    public MigrationParameters downtimeLimitMillis(long ms) {
        if (ms < 0 || ms > MAX_DOWNTIME_LIMIT_MS) {
            throw new IllegalArgumentException("downtime-limit must be between 0 and " + MAX_DOWNTIME_LIMIT_MS
                    + " ms: " + ms);
        }
        this.downtimeLimitMillis = ms;
        return this;
    }

    /** Bytes per second, 0 for unlimited. */
    public long maxBandwidth() {
        return maxBandwidth;
    }

    public MigrationParameters maxBandwidth(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("max-bandwidth must not be negative: " + bytesPerSecond);
        }
        this.maxBandwidth = bytesPerSecond;
        return this;
    }
}
