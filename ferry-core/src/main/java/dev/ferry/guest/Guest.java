/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import java.util.List;
import java.util.Map;

/**
 * A guest as the migration engine sees it, whatever runs it: page-addressed RAM blocks, a dirty log, vCPUs that
 * can be paused and resumed, and execution state that can be saved and loaded as bytes. The engine depends on this
 * interface only; the in-process guest and the KVM guest implement it.
 */
public interface Guest extends AutoCloseable {
    /** How to create an empty guest of the same shape elsewhere. */
    GuestDescriptor descriptor();

    /** The RAM blocks, in a fixed order; a block's {@link RamBlock#index()} is its position here. */
    List<RamBlock> ramBlocks();

    DirtyLog dirtyLog();

    /** Starts the vCPUs of a new guest, or resumes paused ones. */
    void resume();

    /** Stops every vCPU and returns once none runs; idempotent. */
    void pause();

    boolean isPaused();

    /** The execution state (vCPU or workload state). The guest must be paused. */
    byte[] saveState();

    /**
     * Loads execution state saved by {@link #saveState} of a guest with the same descriptor. The guest must be paused
     * and not yet run. Input comes from outside the process: it is validated, and bad input is a
     * {@link GuestException}, never a crash.
     */
    void loadState(byte[] state) throws GuestException;

    /** Checks the guest's own memory invariant. The guest must be paused. */
    GuestCheck check();

    /** Progress counters of what runs in the guest (for example passes of a memory test), for statistics. */
    Map<String, Object> counters();

    /** Stops the guest for good and releases its memory. */
    @Override
    void close();

    /**
     * Throttles the vCPUs: they sleep {@code percent} percent of the time (auto-converge slows a guest that dirties
     * memory faster than it can be sent); 0 lets them run freely. Returns false if the backend cannot throttle.
     */
    default boolean throttle(int percent) {
        return false;
    }

    /** The guest's external output, if it has an output device; a guest without one has nothing to hold back. */
    default java.util.Optional<OutputGate> output() {
        return java.util.Optional.empty();
    }

    /** Total RAM in bytes. */
    default long ramSize() {
        long n = 0;
        for (RamBlock b : ramBlocks()) {
            n += b.length();
        }
        return n;
    }

    /** Total RAM in 4 KiB pages. */
    default long ramPages() {
        return ramSize() >>> dev.ferry.memory.Pages.SHIFT;
    }
}
