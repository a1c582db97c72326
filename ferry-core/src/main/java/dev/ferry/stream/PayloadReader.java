/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.stream.StreamFormatException.Problem;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Reads the fields of one frame's payload, checking that each fits in what is left before reading it. Errors name
 * the frame, the field and the stream offset.
 */
public final class PayloadReader {
    private ByteBuffer payload;
    private long payloadOffset;
    private String where;

    /** Points the reader at a payload ({@code position..limit}) that starts at stream offset {@code offset}. */
    PayloadReader reset(ByteBuffer payload, long offset, String where) {
        this.payload = payload;
        this.payloadOffset = offset - payload.position();
        this.where = where;
        return this;
    }

    public ByteBuffer buffer() {
        return payload;
    }

    public int remaining() {
        return payload.remaining();
    }

    /** Stream offset of the next byte. */
    public long offset() {
        return payloadOffset + payload.position();
    }

    public StreamFormatException malformed(String message) {
        return new StreamFormatException(Problem.MALFORMED_PAYLOAD, offset(), where + " at byte " + offset() + ": "
                + message);
    }

    public StreamFormatException error(Problem problem, String message) {
        return new StreamFormatException(problem, offset(), where + " at byte " + offset() + ": " + message);
    }

    private void need(int n, String field) throws StreamFormatException {
        if (payload.remaining() < n) {
            throw malformed(field + " needs " + n + " bytes, the payload has " + payload.remaining() + " left");
        }
    }

    public int u8(String field) throws StreamFormatException {
        need(1, field);
        return Byte.toUnsignedInt(payload.get());
    }

    public int u16(String field) throws StreamFormatException {
        need(2, field);
        return Short.toUnsignedInt(payload.getShort());
    }

    public long u32(String field) throws StreamFormatException {
        need(4, field);
        return Integer.toUnsignedLong(payload.getInt());
    }

    public long u64(String field) throws StreamFormatException {
        need(8, field);
        return payload.getLong();
    }

    /** A u32 that must lie in {@code [min, max]}. */
    public long u32(String field, long min, long max) throws StreamFormatException {
        long at = offset();
        long v = u32(field);
        if (v < min || v > max) {
            throw new StreamFormatException(Problem.OUT_OF_RANGE, at, where + " at byte " + at + ": " + field + " "
                    + v + " is outside [" + min + ", " + max + "]");
        }
        return v;
    }

    /** A u64 that must lie in {@code [min, max]}. */
    public long u64(String field, long min, long max) throws StreamFormatException {
        long at = offset();
        long v = u64(field);
        if (v < min || v > max) {
            throw new StreamFormatException(Problem.IMPOSSIBLE_SIZE, at, where + " at byte " + at + ": " + field
                    + " " + Long.toUnsignedString(v) + " is outside [" + min + ", " + max + "]");
        }
        return v;
    }

    /** A string with a u16 length prefix, at most {@code maxBytes} long. */
    public String string16(String field, int maxBytes) throws StreamFormatException {
        long at = offset();
        int n = u16(field + " length");
        if (n > maxBytes) {
            throw new StreamFormatException(Problem.IMPOSSIBLE_SIZE, at, where + " at byte " + at + ": " + field
                    + " length " + n + " exceeds " + maxBytes);
        }
        return string(n, field);
    }

    /** A string with a u32 length prefix, at most {@code maxBytes} long. */
    public String string32(String field, int maxBytes) throws StreamFormatException {
        long at = offset();
        long n = u32(field + " length");
        if (n > maxBytes) {
            throw new StreamFormatException(Problem.IMPOSSIBLE_SIZE, at, where + " at byte " + at + ": " + field
                    + " length " + n + " exceeds " + maxBytes);
        }
        return string((int) n, field);
    }

    private String string(int n, String field) throws StreamFormatException {
        need(n, field);
        byte[] b = new byte[n];
        payload.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** All remaining payload bytes. */
    public byte[] rest() {
        byte[] b = new byte[payload.remaining()];
        payload.get(b);
        return b;
    }

    public void skip(int n, String field) throws StreamFormatException {
        need(n, field);
        payload.position(payload.position() + n);
    }

    /** Fails if the payload has bytes left: a frame longer than its fields is corrupt too. */
    public void expectEnd() throws StreamFormatException {
        if (payload.hasRemaining()) {
            throw malformed(payload.remaining() + " unexpected trailing bytes");
        }
    }
}
