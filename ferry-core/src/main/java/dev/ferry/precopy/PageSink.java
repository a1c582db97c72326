/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import dev.ferry.stream.PageBatch;
import dev.ferry.stream.Records;
import java.io.IOException;
import java.time.Duration;

/**
 * Where the precopy loop's pages go: a stream (TCP to a destination, a sequential file) or a positional store (a
 * mapped-ram file, a replication staging area). The loop builds batches of page records and hands them over; the
 * sink decides how they reach their target. A sink that cannot take what the loop was configured with refuses it
 * in {@link #open}, before any byte is written.
 *
 * <p>Batches come from the sink ({@link #takeBatch}) and go back to it ({@link #submit}); a sink that writes in the
 * background recycles a few of them, so the loop allocates nothing per batch.
 */
public interface PageSink extends AutoCloseable {
    /**
     * Negotiates capabilities and sends the setup record. Returns the capabilities the target accepted (a subset of
     * {@code capabilities}), or throws with the reason it refused.
     */
    int open(Records.Setup setup, int capabilities) throws IOException;

    /** An empty batch to fill; may wait for the background writer to return one. */
    PageBatch takeBatch() throws IOException;

    /** Sends a filled batch; the sink owns it until it hands it out again. Returns its size on the wire. */
    long submit(PageBatch batch) throws IOException;

    /** Marks the end of precopy round {@code iteration}. Returns the bytes it cost. */
    long endOfRound(int iteration, long pages) throws IOException;

    /** Sends the execution state. Returns the bytes it cost. */
    long executionState(byte[] state) throws IOException;

    /**
     * Sends the completion record and waits until the target has verified everything (the destination checked the
     * RAM digest and loaded the execution state; a file is durable). Throws if it refused or did not answer in
     * time.
     */
    void complete(long pageRecords, int ramDigest, Duration timeout) throws IOException;

    /**
     * Ends a {@link #complete} that waits for the target, at once, with a {@link CompletionCancelledException}; a
     * later {@code complete} throws it as soon as its record is written. Nothing happens if the target has already
     * answered. Called from another thread (a cancel, the process exiting): the guest is paused while
     * {@code complete} waits, and must not stay so until the completion timeout.
     */
    default void cancelCompletion(String reason) {
    }

    /**
     * Commits the switchover: the target may start the guest; the source must not. Throws
     * {@link HandoverUnconfirmedException} if the commit was sent but the target did not confirm it (the source then
     * neither resumes nor drops its guest); any other exception means the target cannot have it.
     */
    void handover() throws IOException;

    /** Tells the target, best effort, that the migration is abandoned. */
    void abort(String reason);

    /** Bytes written so far. */
    long bytesWritten();

    @Override
    void close();
}
