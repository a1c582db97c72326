/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

/** Frame types. Source-to-destination types are below 0x40, return-path types from 0x40. */
public enum FrameType {
    HELLO(0x01),
    SETUP(0x02),
    PAGES(0x03),
    END_OF_ROUND(0x04),
    EXEC_STATE(0x05),
    COMPLETE(0x06),
    ABORT(0x07),
    HANDOVER(0x08),
    KEEPALIVE(0x09),
    /** Replication (docs/formats/replication.md): a checkpoint begins. */
    CKPT_START(0x10),
    /** Replication: page records of the checkpoint, laid out as PAGES. */
    CKPT_PAGES(0x11),
    /** Replication: the checkpoint's execution state. */
    CKPT_STATE(0x12),
    /** Replication: the checkpoint is complete; the standby verifies it and answers. */
    CKPT_COMMIT(0x13),
    /** Replication: the primary is alive. */
    HEARTBEAT(0x14),
    HELLO_ACK(0x41),
    COMPLETE_ACK(0x42),
    ERROR(0x43),
    /** Replication: the checkpoint is verified and staged; its output may be released. */
    CKPT_ACK(0x44),
    /** Replication: the checkpoint was refused; replication ends. */
    CKPT_NACK(0x45),
    /** The destination received HANDOVER and starts the guest (capability {@code handover-ack}). */
    HANDOVER_ACK(0x46);

    private static final FrameType[] BY_CODE = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    public final int code;

    FrameType(int code) {
        this.code = code;
    }

    /** The type with this code, or null. */
    public static FrameType of(int code) {
        return code >= 0 && code < 256 ? BY_CODE[code] : null;
    }
}
