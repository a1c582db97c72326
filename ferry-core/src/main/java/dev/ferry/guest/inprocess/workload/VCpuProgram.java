/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.workload;

import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.VCpuMemory;

/**
 * What one vCPU runs. Its position, counters and PRNG state are fields saved by {@link #save}, so that after a
 * migration it continues exactly where it stopped.
 */
public interface VCpuProgram {
    /**
     * Runs a short slice of work (tens of microseconds at most: a pause waits for the slice to end). Every store
     * goes through {@code memory}, which marks the page dirty.
     */
    void step(VCpuMemory memory);

    void save(StateWriter out);

    void load(StateReader in) throws GuestException;
}
