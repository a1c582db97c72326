/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.stream.StreamFormatException.Problem;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.zip.CRC32C;

/**
 * Reads frames from a channel: checks the header (type known, length within the limit, before anything is
 * allocated), reads the payload and trailer, checks the CRC32C. Frames are returned in a buffer reused for the
 * next frame. Not thread-safe.
 */
public final class FrameReader {
    private static final int INITIAL_CAPACITY = StreamFormat.FRAME_OVERHEAD + StreamFormat.PAGES_HEADER
            + StreamFormat.MAX_RECORDS * (StreamFormat.RECORD_HEADER + 4096);

    private final ReadableByteChannel channel;
    private final String name;
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer header = ByteBuffer.allocateDirect(StreamFormat.FRAME_HEADER);
    private final PayloadReader payloadReader = new PayloadReader();
    private ByteBuffer frame = ByteBuffer.allocateDirect(INITIAL_CAPACITY);
    private MemorySegment frameSegment = MemorySegment.ofBuffer(frame);
    private long offset;
    private long frames;
    private FrameType type;
    private int payloadLength;
    private long frameOffset;

    /** {@code name} describes the stream in error messages, e.g. "migration stream from 127.0.0.1:51234". */
    public FrameReader(ReadableByteChannel channel, String name) {
        this.channel = channel;
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Reads and checks the stream header. */
    public void readHeader() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(StreamFormat.HEADER_SIZE);
        if (!fill(b, true)) {
            throw new StreamFormatException(Problem.TRUNCATED, 0, name + " is empty: no stream header");
        }
        offset += StreamFormat.HEADER_SIZE;
        StreamHeader.check(b.flip(), name);
    }

    /**
     * Reads the next frame. Returns its type, or null at a clean end of stream (between frames); the caller decides
     * whether ending there is allowed.
     */
    public FrameType next() throws IOException {
        header.clear();
        frameOffset = offset;
        if (!fill(header, true)) {
            return null;
        }
        int code = Byte.toUnsignedInt(header.get(StreamFormat.TYPE_OFFSET));
        FrameType t = FrameType.of(code);
        if (t == null) {
            throw new StreamFormatException(Problem.UNKNOWN_FRAME_TYPE, frameOffset, name + ": unknown frame type 0x"
                    + Integer.toHexString(code) + " at byte " + frameOffset + " (frame " + frames + ")");
        }
        int flags = Byte.toUnsignedInt(header.get(StreamFormat.FLAGS_OFFSET));
        if (flags != 0 || header.getShort(2) != 0) {
            throw new StreamFormatException(Problem.MALFORMED_PAYLOAD, frameOffset, name + ": frame " + frames + " ("
                    + t + ") at byte " + frameOffset + " has unknown flags");
        }
        long length = Integer.toUnsignedLong(header.getInt(StreamFormat.LENGTH_OFFSET));
        if (length > StreamFormat.MAX_PAYLOAD) {
            throw new StreamFormatException(Problem.FRAME_TOO_LARGE, frameOffset, name + ": frame " + frames + " ("
                    + t + ") at byte " + frameOffset + " claims " + length + " bytes of payload, more than the limit of "
                    + StreamFormat.MAX_PAYLOAD);
        }
        int total = StreamFormat.FRAME_OVERHEAD + (int) length;
        if (frame.capacity() < total) {
            frame = ByteBuffer.allocateDirect(total);
            frameSegment = MemorySegment.ofBuffer(frame);
        }
        frame.clear();
        frame.put(header.flip());
        frame.limit(total);
        if (!fill(frame, false)) {
            throw new StreamFormatException(Problem.TRUNCATED, offset, name + " ends inside frame " + frames + " ("
                    + t + ") that started at byte " + frameOffset + ": " + (frame.position()) + " of " + total
                    + " bytes present");
        }
        int end = total - StreamFormat.FRAME_TRAILER;
        frame.position(0).limit(end);
        crc.reset();
        crc.update(frame);
        int stored = frame.limit(total).getInt(end);
        if (stored != (int) crc.getValue()) {
            throw new StreamFormatException(Problem.BAD_CHECKSUM, frameOffset, name + ": checksum mismatch in frame "
                    + frames + " (" + t + ") at byte " + frameOffset + ": stored 0x" + Integer.toHexString(stored)
                    + ", computed 0x" + Integer.toHexString((int) crc.getValue()));
        }
        offset += total;
        frames++;
        type = t;
        payloadLength = (int) length;
        frame.position(StreamFormat.FRAME_HEADER).limit(end);
        return t;
    }

    /** The current frame's payload fields. */
    public PayloadReader payload() {
        frame.position(StreamFormat.FRAME_HEADER).limit(StreamFormat.FRAME_HEADER + payloadLength);
        return payloadReader.reset(frame, frameOffset + StreamFormat.FRAME_HEADER, name + ": frame " + (frames - 1)
                + " (" + type + ")");
    }

    /** The current frame's bytes as a segment (payload starts at {@link StreamFormat#FRAME_HEADER}). */
    public MemorySegment frameSegment() {
        return frameSegment;
    }

    public FrameType type() {
        return type;
    }

    public int payloadLength() {
        return payloadLength;
    }

    /** Stream offset of the current frame. */
    public long frameOffset() {
        return frameOffset;
    }

    /** Bytes read so far. */
    public long offset() {
        return offset;
    }

    /** Frames read so far. */
    public long frames() {
        return frames;
    }

    /**
     * Reads until {@code b} is full. Returns false if the stream ended first: at once when {@code cleanEndAllowed}
     * and nothing was read, otherwise (partial read) also false; the caller tells the two apart by position.
     */
    private boolean fill(ByteBuffer b, boolean cleanEndAllowed) throws IOException {
        int start = b.position();
        while (b.hasRemaining()) {
            int n = channel.read(b);
            if (n < 0) {
                if (cleanEndAllowed && b.position() == start) {
                    return false;
                }
                if (cleanEndAllowed) {
                    throw new StreamFormatException(Problem.TRUNCATED, offset, name + " ends inside a frame header at"
                            + " byte " + (offset + b.position() - start));
                }
                return false;
            }
        }
        return true;
    }
}
