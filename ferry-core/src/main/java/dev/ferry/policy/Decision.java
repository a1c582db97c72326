/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

/** What a {@link PrecopyPolicy} answers: the three outcomes of Xen's precopy policy (seed 002). */
public enum Decision {
    /** Remain in the precopy phase: send another batch while the guest runs. */
    CONTINUE_PRECOPY("continue"),
    /** Pause the guest now and send what is left, then the execution state. */
    STOP_AND_COPY("stop-and-copy"),
    /** Abandon the migration; the source guest keeps running. */
    ABORT("abort");

    private final String label;

    Decision(String label) {
        this.label = label;
    }

    /** The name used in statistics and on the command line. */
    public String label() {
        return label;
    }

    /** The more severe of two decisions: abort over stop-and-copy over continue. */
    public static Decision mostSevere(Decision a, Decision b) {
        return a.ordinal() >= b.ordinal() ? a : b;
    }
}
