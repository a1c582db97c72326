/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import dev.ferry.memory.Bitmap;

/**
 * Which guest pages were written since the last sync. The contract every backend keeps: a guest write that races
 * with {@link #sync} is either visible in the page contents read after that sync returns, or reported by the next
 * sync; it is never lost.
 */
public interface DirtyLog {
    /** Begins tracking; everything written before is assumed to be sent by a full round. */
    void start();

    /**
     * ORs the pages of {@code block} written since the previous sync (or since {@link #start}) into {@code into}
     * and forgets them here. Returns how many pages were newly set in {@code into}.
     */
    long sync(int block, Bitmap into);

    /**
     * Counts, without clearing anything, the pages of {@code block} written since the last sync that are not set in
     * {@code exclude}; -1 if the backend cannot tell cheaply. The precopy loop uses it to estimate what stopping now
     * would cost. Concurrent writes make it an estimate, never a correctness input.
     */
    default long peek(int block, Bitmap exclude) {
        return -1;
    }

    /** Ends tracking. */
    void stop();
}
