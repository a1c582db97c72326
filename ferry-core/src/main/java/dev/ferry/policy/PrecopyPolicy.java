/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

/**
 * Decides, before and after every batch of pages of a live migration, whether precopy goes on, switches to
 * stop-and-copy, or aborts (seed 002). The loop's mechanism knows nothing of the rule; the rule sees only the value
 * snapshot it is given.
 *
 * <p>Implementations must answer quickly (they are called about a thousand times a second) and must not throw. To
 * plug in your own, implement this interface with a public constructor taking {@code Map<String, String>} (the
 * options from the command line) or none, put the class on Ferry's class path ({@code FERRY_CLASSPATH}) and name it
 * with {@code --policy com.example.MyPolicy,key=value}.
 */
@FunctionalInterface
public interface PrecopyPolicy {
    Decision decide(PrecopyStats stats);

    /** How the policy describes itself in statistics. */
    default String describe() {
        return getClass().getSimpleName();
    }
}
