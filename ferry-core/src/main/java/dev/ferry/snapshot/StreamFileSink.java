/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.StreamSink;
import dev.ferry.stream.PageBatch;
import dev.ferry.stream.Records;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Saves a guest as a sequential migration stream in a file: the stream a destination would receive, written by a
 * {@link StreamSink} with no return path. Every page sent again in a later round is appended, so a live save of a
 * guest that keeps writing grows beyond its RAM (the reason mapped-ram exists).
 *
 * <p>A regular file gets the same crash-safe protocol as mapped-ram ({@link SaveTarget}): the stream goes to
 * {@code FILE.partial}, and only after the COMPLETE record is written and fsynced is it renamed over {@code FILE}. A
 * stream that ends without COMPLETE is refused as incomplete. A FIFO or a device is written directly.
 */
public final class StreamFileSink implements PageSink {
    private final SaveTarget target;
    private FileChannel channel;
    private Sealable out;
    private StreamSink stream;
    private boolean committed;

    public StreamFileSink(Path file) throws IOException {
        this.target = SaveTarget.of(file, false);
    }

    public Path file() {
        return target.target();
    }

    /** The file written until the save is complete (null for a FIFO or a device, written directly). */
    public Path partialFile() {
        return target.partial();
    }

    @Override
    public int open(Records.Setup setup, int capabilities) throws IOException {
        channel = target.openForWriting();
        Path written = target.atomic() ? target.partial() : target.target();
        out = new Sealable(channel);
        stream = new StreamSink(out, null, "snapshot file " + written);
        try {
            return stream.open(setup, capabilities);
        } catch (IOException | RuntimeException e) {
            stream.close();
            target.discard();
            throw e;
        }
    }

    @Override
    public PageBatch takeBatch() throws IOException {
        return stream.takeBatch();
    }

    @Override
    public long submit(PageBatch batch) throws IOException {
        return stream.submit(batch);
    }

    @Override
    public long endOfRound(int iteration, long pages) throws IOException {
        return stream.endOfRound(iteration, pages);
    }

    @Override
    public long executionState(byte[] state) throws IOException {
        return stream.executionState(state);
    }

    /** Writes COMPLETE, waits until everything is written, fsyncs and renames the file into place. */
    @Override
    public void complete(long pageRecords, int ramDigest, Duration timeout) throws IOException {
        stream.complete(pageRecords, ramDigest, timeout);
        // Nothing may follow COMPLETE: the stream's writer would send a keepalive after a second of silence.
        out.seal();
        target.commit(channel);
        committed = true;
    }

    /** A file has no one to hand the guest to: nothing to do. */
    @Override
    public void handover() {
    }

    @Override
    public void abort(String reason) {
        if (stream != null) {
            stream.abort(reason);
            stream.close();
        }
        if (!committed) {
            target.discard();
        }
    }

    @Override
    public long bytesWritten() {
        return stream == null ? 0 : stream.bytesWritten();
    }

    /** The file channel, closed to further writes once the stream is complete. */
    private static final class Sealable implements java.nio.channels.WritableByteChannel {
        private final FileChannel channel;
        private volatile boolean sealed;

        Sealable(FileChannel channel) {
            this.channel = channel;
        }

        void seal() {
            sealed = true;
        }

        @Override
        public int write(java.nio.ByteBuffer src) throws IOException {
            if (sealed) {
                throw new java.nio.channels.ClosedChannelException();
            }
            return channel.write(src);
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    @Override
    public void close() {
        if (stream != null) {
            stream.close();
            if (!committed) {
                target.discard();
            }
        }
    }
}
