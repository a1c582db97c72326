/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

/**
 * Byte layout of the Ferry migration stream, version 1 (docs/formats/migration-stream.md). All integers are
 * big-endian.
 *
 * <pre>
 * Stream header (16 bytes), once at the start of each direction:
 *   0  u8[8]  magic "FERRYMIG"
 *   8  u16    version (1)
 *  10  u16    flags (0)
 *  12  u32    CRC32C of bytes 0..11
 *
 * Frame (12 + L bytes):
 *   0  u8     type ({@link FrameType})
 *   1  u8     flags (0)
 *   2  u16    reserved (0)
 *   4  u32    payload length L, at most {@link #MAX_PAYLOAD}
 *   8  u8[L]  payload
 * 8+L  u32    CRC32C of bytes 0 .. 8+L-1 (header and payload)
 * </pre>
 */
public final class StreamFormat {
    /** "FERRYMIG". */
    public static final long MAGIC = 0x46455252594D4947L;
    public static final int VERSION = 1;
    public static final int HEADER_SIZE = 16;

    public static final int FRAME_HEADER = 8;
    public static final int FRAME_TRAILER = 4;
    public static final int FRAME_OVERHEAD = FRAME_HEADER + FRAME_TRAILER;
    /** Frame offsets. */
    public static final int TYPE_OFFSET = 0;
    public static final int FLAGS_OFFSET = 1;
    public static final int LENGTH_OFFSET = 4;

    /** Largest payload a reader accepts; a larger length field is corruption, refused before allocating. */
    public static final int MAX_PAYLOAD = 16 << 20;

    /**
     * PAGES payload: {@code u32 block index, u32 record count n}, then n records {@code u32 page index, u8 kind,
     * kind data}: ZERO has none, NORMAL has 4096 bytes, XBZRLE has {@code u16 length} and that many bytes.
     */
    public static final int PAGES_HEADER = 8;
    public static final int RECORD_HEADER = 5;
    /** Pages per batch: one PAGES frame carries at most this many records (about 1 MiB of page data). */
    public static final int MAX_RECORDS = 256;

    /** Capability bits negotiated in HELLO. */
    public static final int CAP_XBZRLE = 1;
    /**
     * The destination confirms HANDOVER with HANDOVER_ACK before it resumes the guest. A source offers it on every
     * connection; without the confirmation it does not know whether the destination took the guest over.
     */
    public static final int CAP_HANDOVER_ACK = 1 << 1;
    public static final int KNOWN_CAPABILITIES = CAP_XBZRLE | CAP_HANDOVER_ACK;

    private StreamFormat() {
    }
}
