/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

/**
 * Ferry's default: stop and copy as soon as the expected downtime fits the downtime limit. The limit is the
 * migration's {@code downtime-limit} parameter (so changing it during a migration takes effect at the next batch),
 * unless the policy was given its own.
 */
public record DowntimePolicy(long limitMillis) implements PrecopyPolicy {
    /** Follow the migration's downtime-limit parameter. */
    public static final long FROM_PARAMETERS = -1;

    public DowntimePolicy() {
        this(FROM_PARAMETERS);
    }

    @Override
    public Decision decide(PrecopyStats s) {
        long limit = limitMillis >= 0 ? limitMillis : s.downtimeLimitMillis();
        boolean fits = s.expectedDowntimeMillis() >= 0 && s.expectedDowntimeMillis() <= limit;
        return fits ? Decision.STOP_AND_COPY : Decision.CONTINUE_PRECOPY;
    }

    @Override
    public String describe() {
        return limitMillis >= 0 ? "downtime(limit=" + limitMillis + "ms)" : "downtime";
    }
}
