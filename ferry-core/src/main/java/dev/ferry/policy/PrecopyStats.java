/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

/**
 * The value snapshot a {@link PrecopyPolicy} sees before and after every batch of pages (seed 002's
 * {@code struct precopy_stats}, passed by value, extended with what a time- or downtime-based policy needs).
 *
 * @param moment before or after the batch
 * @param iteration precopy rounds completed so far: 0 during the first full round (Xen's count)
 * @param totalWritten pages sent so far, over all rounds
 * @param dirtyCount pages the last dirty-log sync found, on a consultation before a batch; -1 after a batch, when
 *     the count is unknown until the next sync (Xen's convention)
 * @param elapsedMillis time since the migration started
 * @param bandwidth measured bytes per second recently put on the wire, or -1 before there is a measurement
 * @param expectedDowntimeMillis what stopping now would cost: the bytes remaining over the bandwidth; -1 when the
 *     bandwidth is not known yet
 * @param bytesRemaining what the pages still to send would cost on the wire: those not yet sent this round plus
 *     those dirtied since the last sync
 * @param downtimeLimitMillis the current downtime-limit parameter
 */
public record PrecopyStats(
        Moment moment,
        int iteration,
        long totalWritten,
        long dirtyCount,
        long elapsedMillis,
        double bandwidth,
        long expectedDowntimeMillis,
        long bytesRemaining,
        long downtimeLimitMillis) {

    /** When a policy is consulted. */
    public enum Moment {
        BEFORE_BATCH,
        AFTER_BATCH
    }
}
