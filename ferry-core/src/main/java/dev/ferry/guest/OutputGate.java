/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

/**
 * A guest's external output (network replies, for instance), which replication holds back until the checkpoint
 * that produced it is safe on the standby (seed 003's network buffering). Output is grouped in epochs: everything
 * produced between two checkpoints belongs to one epoch.
 *
 * <p>When buffering is off (the default, and always when nothing replicates the guest) output goes out at once.
 */
public interface OutputGate {
    /** Turns buffering on or off; turning it off releases everything held. */
    void buffering(boolean on);

    boolean buffering();

    /**
     * Ends the current epoch and returns its number; output produced from now on belongs to the next one. Called
     * with the guest paused, when a checkpoint is taken.
     */
    long closeEpoch();

    /** Releases the output of every epoch up to and including {@code epoch}: its checkpoint is acknowledged. */
    void release(long epoch);

    /** Bytes held now. */
    long heldBytes();

    /** Bytes released (or sent unbuffered) so far. */
    long releasedBytes();
}
