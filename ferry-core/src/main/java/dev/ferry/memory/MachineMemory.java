/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.lang.management.ManagementFactory;

/**
 * How much memory this machine has: the bound for a size that arrives before anything vouches for it (a stream's
 * SETUP, {@code incoming --prealloc}, {@code restore --prealloc}), checked before that size allocates anything.
 */
public final class MachineMemory {
    private MachineMemory() {
    }

    /** This machine's physical RAM in bytes (as the JVM sees it: a container's limit where there is one). */
    public static long physicalBytes() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
    }

    /**
     * Null if {@code declared} bytes of guest RAM fit in this machine's RAM; otherwise the end of the sentence that
     * refuses them: "N bytes (X) of guest RAM, more than this machine's M (Y)".
     */
    public static String excess(long declared) {
        long physical = physicalBytes();
        return declared <= physical ? null : declared + " bytes (" + dev.ferry.util.Units.bytes(declared)
                + ") of guest RAM, more than this machine's " + physical + " (" + dev.ferry.util.Units.bytes(physical)
                + ")";
    }
}
