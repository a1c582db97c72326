/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PayloadReader;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormatException;

/**
 * Payloads of the replication transaction (docs/formats/replication.md). Big-endian, read with a validating
 * {@link PayloadReader}.
 */
public final class CheckpointRecords {
    /** A checkpoint holds at most this many pages; a standby also refuses more than its guest has. */
    public static final long MAX_PAGES = 1L << 26;
    /** Largest execution state a checkpoint may carry. */
    public static final int MAX_STATE = 16 << 20;

    private CheckpointRecords() {
    }

    /** CKPT_START: {@code u64 checkpoint, u64 page records, u32 execution-state length}. */
    public record Start(long checkpoint, long pages, int stateLength) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.CKPT_START).putLong(checkpoint).putLong(pages).putInt(stateLength);
        }

        public static Start read(PayloadReader r) throws StreamFormatException {
            long k = r.u64("checkpoint number", 1, Long.MAX_VALUE);
            long pages = r.u64("page record count", 0, MAX_PAGES);
            long state = r.u32("execution state length", 0, MAX_STATE);
            r.expectEnd();
            return new Start(k, pages, (int) state);
        }
    }

    /**
     * CKPT_COMMIT: {@code u64 checkpoint, u64 page records, u32 digest}. The digest is the CRC32C of each page
     * record's CRC32C (LE u32, in the order sent; a zero page counts as the CRC32C of 4096 zeros) followed by the
     * CRC32C of the execution state (LE u32).
     */
    public record Commit(long checkpoint, long pages, int digest) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.CKPT_COMMIT).putLong(checkpoint).putLong(pages).putInt(digest);
        }

        public static Commit read(PayloadReader r) throws StreamFormatException {
            long k = r.u64("checkpoint number", 1, Long.MAX_VALUE);
            long pages = r.u64("page record count", 0, MAX_PAGES);
            int digest = (int) r.u32("checkpoint digest");
            r.expectEnd();
            return new Commit(k, pages, digest);
        }
    }

    /** CKPT_ACK: {@code u64 checkpoint}. */
    public record Ack(long checkpoint) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.CKPT_ACK).putLong(checkpoint);
        }

        public static Ack read(PayloadReader r) throws StreamFormatException {
            long k = r.u64("checkpoint number", 0, Long.MAX_VALUE);
            r.expectEnd();
            return new Ack(k);
        }
    }

    /** CKPT_NACK: {@code u64 checkpoint, u16 n, u8[n] reason}. */
    public record Nack(long checkpoint, String reason) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.CKPT_NACK).putLong(checkpoint);
            String t = reason.length() > 1000 ? reason.substring(0, 1000) : reason;
            f.putString(t, Records.MAX_TEXT);
        }

        public static Nack read(PayloadReader r) throws StreamFormatException {
            long k = r.u64("checkpoint number", 0, Long.MAX_VALUE);
            String reason = r.string16("reason", Records.MAX_TEXT);
            r.expectEnd();
            return new Nack(k, reason);
        }
    }

    /** HEARTBEAT: {@code u64 last checkpoint sent}. */
    public record Heartbeat(long lastCheckpoint) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.HEARTBEAT).putLong(lastCheckpoint);
        }

        public static Heartbeat read(PayloadReader r) throws StreamFormatException {
            long k = r.u64("last checkpoint", 0, Long.MAX_VALUE);
            r.expectEnd();
            return new Heartbeat(k);
        }
    }
}
