/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import dev.ferry.memory.Pages;

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
    private volatile boolean autoConverge;
    private volatile long xbzrleCacheSize = dev.ferry.xbzrle.XbzrlePageCache.DEFAULT_CAPACITY;
    private volatile int throttleTriggerThreshold = 50;
    private volatile int cpuThrottleInitial = 20;
    private volatile int cpuThrottleIncrement = 10;
    private volatile int maxCpuThrottle = 99;

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

    /** {@code xbzrle-cache-size}: bytes of old page contents the sender keeps; changed during a migration, the cache
     * is resized at the next batch, keeping the entries that still fit. */
    public long xbzrleCacheSize() {
        return xbzrleCacheSize;
    }

    /**
     * The XBZRLE cache a migration allocates for a guest of {@code ramBytes} and an {@code xbzrle-cache-size} of
     * {@code cacheSize}: whole pages, and no more than the guest's RAM, which is all a cache of its pages can ever
     * hold (a larger one would only cost index memory: 11 GiB of it for 1 TiB).
     */
    public static long xbzrleCacheCapacity(long cacheSize, long ramBytes) {
        return Math.min(xbzrleCacheWholePages(cacheSize), ramBytes);
    }

    /** An {@code xbzrle-cache-size} of {@code cacheSize} in whole pages: what the cache-size statistic reports. */
    public static long xbzrleCacheWholePages(long cacheSize) {
        return cacheSize / Pages.SIZE * Pages.SIZE;
    }

    public MigrationParameters xbzrleCacheSize(long bytes) {
        if (bytes < 0 || bytes > (1L << 40)) {
            throw new IllegalArgumentException("xbzrle-cache-size must be between 0 and 1 TiB: " + bytes);
        }
        this.xbzrleCacheSize = bytes;
        return this;
    }

    /** The auto-converge capability: throttle the guest when it dirties memory faster than it can be sent. */
    public boolean autoConverge() {
        return autoConverge;
    }

    public MigrationParameters autoConverge(boolean on) {
        this.autoConverge = on;
        return this;
    }

    /**
     * QEMU's auto-converge parameters: throttle when the bytes dirtied in a period exceed
     * {@code throttle-trigger-threshold} percent of the bytes sent in it, twice in a row; start at
     * {@code cpu-throttle-initial} percent, add {@code cpu-throttle-increment} each time, never beyond
     * {@code max-cpu-throttle}.
     */
    public MigrationParameters throttle(int triggerThreshold, int initial, int increment, int max) {
        check("throttle-trigger-threshold", triggerThreshold, 1, 100);
        check("cpu-throttle-initial", initial, 1, 99);
        check("cpu-throttle-increment", increment, 1, 99);
        check("max-cpu-throttle", max, 1, 99);
        this.throttleTriggerThreshold = triggerThreshold;
        this.cpuThrottleInitial = initial;
        this.cpuThrottleIncrement = increment;
        this.maxCpuThrottle = max;
        return this;
    }

    private static void check(String name, int v, int min, int max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ": " + v);
        }
    }

    public int throttleTriggerThreshold() {
        return throttleTriggerThreshold;
    }

    public int cpuThrottleInitial() {
        return cpuThrottleInitial;
    }

    public int cpuThrottleIncrement() {
        return cpuThrottleIncrement;
    }

    public int maxCpuThrottle() {
        return maxCpuThrottle;
    }
}
