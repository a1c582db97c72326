/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.memory.Crc32cAlgebra;
import dev.ferry.memory.Pages;
import dev.ferry.stream.StreamFormatException.Problem;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.SocketException;
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
    private final int[] pageCrcs = new int[StreamFormat.MAX_RECORDS];
    private boolean pageCrcsKnown;

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
        pageCrcsKnown = false;
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
        int computed = t == FrameType.PAGES ? pagesChecksum(end) : wholeChecksum(end);
        int stored = frame.limit(total).getInt(end);
        if (stored != computed) {
            pageCrcsKnown = false;
            throw new StreamFormatException(Problem.BAD_CHECKSUM, frameOffset, name + ": checksum mismatch in frame "
                    + frames + " (" + t + ") at byte " + frameOffset + ": stored 0x" + Integer.toHexString(stored)
                    + ", computed 0x" + Integer.toHexString(computed));
        }
        offset += total;
        frames++;
        type = t;
        payloadLength = (int) length;
        frame.position(StreamFormat.FRAME_HEADER).limit(end);
        return t;
    }

    /**
     * Checks that the stream ends here, after the frame {@code last} names ("the COMPLETE record"): a file must end
     * with its COMPLETE record, and any byte after it, a stray frame as much as garbage, means the file is not the
     * one that was written. Reads at most one byte.
     */
    public void expectEnd(String last) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        if (fill(one, true)) {
            throw new StreamFormatException(Problem.TRAILING_DATA, offset, name + " goes on after " + last
                    + ": data at byte " + offset + ", where it should end (the file is corrupt)");
        }
    }

    private int wholeChecksum(int end) {
        frame.position(0).limit(end);
        crc.reset();
        crc.update(frame);
        return (int) crc.getValue();
    }

    /**
     * The CRC32C of a PAGES frame of zero and whole-page records, computed from the CRC of each page (kept for
     * {@link #pageCrc}: the reader's RAM digest needs them) and the record headers, so that no byte is hashed twice.
     * Any other frame, or one whose records do not walk cleanly to its end, is hashed whole: the loader reports what
     * is wrong with it once the checksum has passed.
     */
    private int pagesChecksum(int end) {
        frame.limit(end);
        int recordsStart = StreamFormat.FRAME_HEADER + StreamFormat.PAGES_HEADER;
        if (end < recordsStart) {
            return wholeChecksum(end);
        }
        long count = Integer.toUnsignedLong(frame.getInt(StreamFormat.FRAME_HEADER + 4));
        if (count < 1 || count > StreamFormat.MAX_RECORDS) {
            return wholeChecksum(end);
        }
        int register = 0;
        int at = recordsStart;
        for (int i = 0; i < count; i++) {
            if (at + StreamFormat.RECORD_HEADER > end) {
                return wholeChecksum(end);
            }
            int kind = frame.get(at + StreamFormat.RECORD_HEADER - 1);
            register = Crc32cAlgebra.update(register, frame, at, at + StreamFormat.RECORD_HEADER);
            at += StreamFormat.RECORD_HEADER;
            if (kind == PageKind.ZERO.code) {
                continue;
            }
            if (kind != PageKind.NORMAL.code || at + Pages.SIZE > end) {
                return wholeChecksum(end);
            }
            frame.limit(at + Pages.SIZE).position(at);
            crc.reset();
            crc.update(frame);
            pageCrcs[i] = (int) crc.getValue();
            frame.limit(end); // absolute gets of the next record header are checked against the limit
            register = Crc32cAlgebra.appendPage(register, pageCrcs[i]);
            at += Pages.SIZE;
        }
        if (at != end) {
            return wholeChecksum(end);
        }
        pageCrcsKnown = true;
        return Crc32cAlgebra.crc(Crc32cAlgebra.update(-1, frame, 0, recordsStart), register, end - recordsStart);
    }

    /**
     * Whether {@link #pageCrc} is known for the current frame: a PAGES frame whose checksum was computed page by
     * page.
     */
    public boolean hasPageCrcs() {
        return pageCrcsKnown;
    }

    /** The CRC32C of the page data of record {@code record} (a NORMAL record) of the current PAGES frame. */
    public int pageCrc(int record) {
        if (!pageCrcsKnown) {
            throw new IllegalStateException("no page CRCs for this frame");
        }
        return pageCrcs[record];
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
     * Reads and throws away what the peer still sends, until it closes the connection, {@code limit} bytes have gone or
     * {@code deadlineNanos} ({@link System#nanoTime}) has passed; a peer that sends nothing at all is bounded by the
     * channel's own timeout. For a side that has refused the stream and told the peer why: closing a TCP socket with
     * unread data makes the kernel reset the connection, and the reset can destroy that answer before a peer that is
     * still writing reads it. Returns whether the peer closed the connection (false if a limit came first). Reuses the
     * frame buffer: the current frame is gone after this.
     */
    public boolean discardRest(long limit, long deadlineNanos) throws IOException {
        long discarded = 0;
        while (discarded < limit && System.nanoTime() - deadlineNanos < 0) {
            frame.clear();
            frame.limit((int) Math.min(frame.capacity(), limit - discarded));
            int n = channel.read(frame);
            if (n < 0) {
                return true;
            }
            discarded += n;
            offset += n;
        }
        return false;
    }

    /**
     * Reads until {@code b} is full. Returns false if the stream ended first: at once when {@code cleanEndAllowed}
     * and nothing was read, otherwise (partial read) also false; the caller tells the two apart by position.
     */
    private boolean fill(ByteBuffer b, boolean cleanEndAllowed) throws IOException {
        int start = b.position();
        while (b.hasRemaining()) {
            int n;
            try {
                n = channel.read(b);
            } catch (SocketException e) {
                // "Connection reset" alone names neither the peer nor where the stream broke off. (In every
                // caller, b's first byte is the stream's byte at offset.)
                long at = offset + b.position();
                throw new IOException(name + " broke off at byte " + at + ": " + e.getMessage(), e);
            }
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
