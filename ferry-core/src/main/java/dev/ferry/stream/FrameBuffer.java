/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.memory.Crc32cAlgebra;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * A reusable direct buffer in which one frame is built in place: header room, payload, CRC32C trailer. Once
 * {@link #finish finished} it holds the whole frame, ready to be written to a channel; nothing is copied again.
 */
public final class FrameBuffer {
    private final ByteBuffer buffer;
    private final MemorySegment segment;
    private final CRC32C crc = new CRC32C();
    private FrameType type;

    public FrameBuffer(int maxPayload) {
        if (maxPayload < 0 || maxPayload > StreamFormat.MAX_PAYLOAD) {
            throw new IllegalArgumentException("frame payload capacity out of range: " + maxPayload);
        }
        this.buffer = ByteBuffer.allocateDirect(StreamFormat.FRAME_OVERHEAD + maxPayload);
        this.segment = MemorySegment.ofBuffer(buffer);
    }

    /** Starts a frame of {@code type}: the buffer is positioned at the first payload byte. */
    public ByteBuffer begin(FrameType type) {
        this.type = type;
        buffer.clear();
        buffer.position(StreamFormat.FRAME_HEADER);
        return buffer;
    }

    public FrameType type() {
        return type;
    }

    /** The buffer (position = end of the payload so far while building). */
    public ByteBuffer buffer() {
        return buffer;
    }

    /** The same memory as a segment, for bulk page copies into the payload. */
    public MemorySegment segment() {
        return segment;
    }

    /** Bytes of payload room left. */
    public int remaining() {
        return buffer.capacity() - StreamFormat.FRAME_TRAILER - buffer.position();
    }

    public FrameBuffer putString(String s, int maxBytes) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > maxBytes) {
            throw new IllegalArgumentException("string longer than " + maxBytes + " bytes: " + s);
        }
        if (maxBytes <= 0xFFFF) {
            buffer.putShort((short) b.length);
        } else {
            buffer.putInt(b.length);
        }
        buffer.put(b);
        return this;
    }

    /** Writes the header and the CRC trailer and flips the buffer: it now holds exactly the frame. */
    public ByteBuffer finish() {
        int end = writeHeader();
        buffer.flip();
        crc.reset();
        crc.update(buffer);
        return trailer(end, (int) crc.getValue());
    }

    /**
     * As {@link #finish()}, for a caller that already knows the CRC register of the frame's bytes from
     * {@code bodyStart} on ({@code Crc32cAlgebra.update(0, body)}, built up as the body was written): only the bytes
     * before it are read again.
     */
    public ByteBuffer finish(int bodyStart, int bodyRegister) {
        int end = writeHeader();
        int prefix = Crc32cAlgebra.update(-1, buffer, 0, bodyStart);
        return trailer(end, Crc32cAlgebra.crc(prefix, bodyRegister, end - bodyStart));
    }

    private int writeHeader() {
        int payload = buffer.position() - StreamFormat.FRAME_HEADER;
        buffer.put(StreamFormat.TYPE_OFFSET, (byte) type.code);
        buffer.put(StreamFormat.FLAGS_OFFSET, (byte) 0);
        buffer.putShort(2, (short) 0);
        buffer.putInt(StreamFormat.LENGTH_OFFSET, payload);
        return buffer.position();
    }

    private ByteBuffer trailer(int end, int frameCrc) {
        buffer.limit(end + StreamFormat.FRAME_TRAILER);
        buffer.putInt(end, frameCrc);
        buffer.position(0);
        return buffer;
    }

    /** The finished frame's size in bytes. */
    public int frameBytes() {
        return buffer.limit();
    }
}
