/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

/**
 * Xen's historical rule, seed 002's default policy: stop and copy when fewer than {@code dirtyThreshold} pages are
 * dirty (a known count, not -1) or after {@code maxIterations} rounds. It never aborts.
 */
public record XenPolicy(long dirtyThreshold, int maxIterations) implements PrecopyPolicy {
    public static final long DEFAULT_DIRTY_THRESHOLD = 50;
    public static final int DEFAULT_MAX_ITERATIONS = 5;

    public XenPolicy {
        if (dirtyThreshold < 0 || maxIterations < 1) {
            throw new IllegalArgumentException("xen policy: dirty-threshold must be >= 0 and max-iterations >= 1");
        }
    }

    public XenPolicy() {
        this(DEFAULT_DIRTY_THRESHOLD, DEFAULT_MAX_ITERATIONS);
    }

    @Override
    public Decision decide(PrecopyStats s) {
        boolean fewDirty = s.dirtyCount() >= 0 && s.dirtyCount() < dirtyThreshold;
        return fewDirty || s.iteration() >= maxIterations ? Decision.STOP_AND_COPY : Decision.CONTINUE_PRECOPY;
    }

    @Override
    public String describe() {
        return "xen(dirty-threshold=" + dirtyThreshold + ", max-iterations=" + maxIterations + ")";
    }
}
