/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

import java.time.Duration;

/**
 * After a wall-clock limit, abort or force stop-and-copy; before it, continue. Composed with another policy it
 * bounds a migration that would not converge.
 */
public record TimeoutPolicy(Duration after, Decision action) implements PrecopyPolicy {
    public TimeoutPolicy {
        if (after.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative");
        }
        if (action == Decision.CONTINUE_PRECOPY) {
            throw new IllegalArgumentException("timeout action must be abort or stop-and-copy");
        }
    }

    @Override
    public Decision decide(PrecopyStats s) {
        return s.elapsedMillis() >= after.toMillis() ? action : Decision.CONTINUE_PRECOPY;
    }

    @Override
    public String describe() {
        return "timeout(after=" + after.toMillis() + "ms, on-timeout="
                + (action == Decision.ABORT ? "abort" : "force") + ")";
    }
}
