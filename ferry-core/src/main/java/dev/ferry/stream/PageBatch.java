/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.memory.Crc32cAlgebra;
import dev.ferry.memory.Pages;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A batch of page records of one RAM block, built in place as the payload of a PAGES frame. The record index
 * (page numbers, kinds, where each record's data lies) is kept beside the bytes so that a sink that does not send
 * frames (a mapped-ram file, a replication staging area) can use the batch without parsing it.
 */
public final class PageBatch {
    private final FrameBuffer frame;
    private final long[] pages = new long[StreamFormat.MAX_RECORDS];
    private final PageKind[] kinds = new PageKind[StreamFormat.MAX_RECORDS];
    private final int[] dataOffsets = new int[StreamFormat.MAX_RECORDS];
    private final int[] dataLengths = new int[StreamFormat.MAX_RECORDS];
    private int block = -1;
    private int count;
    private int dataPages;
    /**
     * CRC register of the records so far (see {@link Crc32cAlgebra}), while every record's bytes are known to it:
     * headers as they are written, whole pages from the CRC their writer computed anyway. Then the frame's CRC
     * costs no second pass over the pages.
     */
    private int register;
    private boolean combinable;
    private boolean crcPending;

    public PageBatch() {
        this.frame = new FrameBuffer(StreamFormat.PAGES_HEADER
                + StreamFormat.MAX_RECORDS * (StreamFormat.RECORD_HEADER + Pages.SIZE));
    }

    /** Starts an empty batch for {@code block}. */
    public void begin(int block) {
        begin(block, FrameType.PAGES);
    }

    /** Starts an empty batch for {@code block} in a frame of {@code type} (PAGES, or replication's CKPT_PAGES). */
    public void begin(int block, FrameType type) {
        this.block = block;
        this.count = 0;
        this.dataPages = 0;
        this.register = 0;
        this.combinable = true;
        this.crcPending = false;
        ByteBuffer b = frame.begin(type);
        b.putInt(block).putInt(0);
    }

    public boolean isFull() {
        return count == StreamFormat.MAX_RECORDS;
    }

    public boolean isEmpty() {
        return count == 0;
    }

    public int block() {
        return block;
    }

    public int count() {
        return count;
    }

    public long page(int i) {
        return pages[i];
    }

    public PageKind kind(int i) {
        return kinds[i];
    }

    /** Offset of record {@code i}'s data in {@link #segment()}. */
    public int dataOffset(int i) {
        return dataOffsets[i];
    }

    public int dataLength(int i) {
        return dataLengths[i];
    }

    /** Number of records carrying a whole page (NORMAL). */
    public int normalPages() {
        return dataPages;
    }

    /** The memory the records' data lies in. */
    public MemorySegment segment() {
        return frame.segment();
    }

    public ByteBuffer buffer() {
        return frame.buffer();
    }

    public void addZero(long page) {
        record(page, PageKind.ZERO, 0);
    }

    /**
     * Adds a NORMAL record; the caller copies the page's 4096 bytes to the returned offset of {@link #segment()}, and
     * may then tell the batch their CRC32C with {@link #pageCrc}.
     */
    public int addNormal(long page) {
        dataPages++;
        int at = record(page, PageKind.NORMAL, Pages.SIZE);
        crcPending = true;
        return at;
    }

    /**
     * The CRC32C of the page just added with {@link #addNormal}, as it lies in the batch: lets {@link #finish} compute
     * the frame's CRC without reading the page again. A wrong value makes the frame fail its check at the reader.
     */
    public void pageCrc(int crc) {
        if (!crcPending) {
            throw new IllegalStateException("pageCrc must follow addNormal");
        }
        crcPending = false;
        register = Crc32cAlgebra.appendPage(register, crc);
    }

    /** Adds an XBZRLE record of {@code length} delta bytes; the caller writes them at the returned offset. */
    public int addXbzrle(long page, int length) {
        if (length < 1 || length > Pages.SIZE) {
            throw new IllegalArgumentException("XBZRLE delta length out of range: " + length);
        }
        ByteBuffer b = frame.buffer();
        b.putInt((int) page).put((byte) PageKind.XBZRLE.code).putShort((short) length);
        combinable = false; // the delta's bytes are not hashed by anyone else: finish hashes the frame whole
        int at = b.position();
        b.position(at + length);
        pages[count] = page;
        kinds[count] = PageKind.XBZRLE;
        dataOffsets[count] = at;
        dataLengths[count] = length;
        count++;
        return at;
    }

    private int record(long page, PageKind kind, int dataLength) {
        if (count == StreamFormat.MAX_RECORDS) {
            throw new IllegalStateException("page batch is full");
        }
        if (crcPending) {
            combinable = false; // the previous page's CRC was not given
        }
        ByteBuffer b = frame.buffer();
        b.putInt((int) page).put((byte) kind.code);
        int at = b.position();
        if (combinable) {
            register = Crc32cAlgebra.update(register, b, at - StreamFormat.RECORD_HEADER, at);
        }
        b.position(at + dataLength);
        pages[count] = page;
        kinds[count] = kind;
        dataOffsets[count] = at;
        dataLengths[count] = dataLength;
        count++;
        return at;
    }

    /** Closes the batch as a PAGES frame; returns the frame's bytes, ready to write. */
    public ByteBuffer finish() {
        frame.buffer().putInt(StreamFormat.FRAME_HEADER + 4, count);
        if (combinable && !crcPending) {
            return frame.finish(StreamFormat.FRAME_HEADER + StreamFormat.PAGES_HEADER, register);
        }
        return frame.finish();
    }

    /** Size of the finished frame on the wire. */
    public int frameBytes() {
        return frame.frameBytes();
    }
}
