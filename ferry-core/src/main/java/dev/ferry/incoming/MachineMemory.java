/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.incoming;

import java.lang.management.ManagementFactory;

/**
 * How much memory this machine has: the bound for a size that arrives before anything vouches for it (a stream's
 * SETUP, {@code incoming --prealloc}), checked before that size allocates anything.
 */
public final class MachineMemory {
    private MachineMemory() {
    }

    /** This machine's physical RAM in bytes (as the JVM sees it: a container's limit where there is one). */
    public static long physicalBytes() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
    }
}
