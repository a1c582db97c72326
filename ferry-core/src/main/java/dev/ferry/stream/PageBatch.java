/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

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

    /** Adds a NORMAL record; the caller copies the page's 4096 bytes to the returned offset of {@link #segment()}. */
    public int addNormal(long page) {
        dataPages++;
        return record(page, PageKind.NORMAL, Pages.SIZE);
    }

    /** Adds an XBZRLE record of {@code length} delta bytes; the caller writes them at the returned offset. */
    public int addXbzrle(long page, int length) {
        if (length < 1 || length > Pages.SIZE) {
            throw new IllegalArgumentException("XBZRLE delta length out of range: " + length);
        }
        ByteBuffer b = frame.buffer();
        b.putInt((int) page).put((byte) PageKind.XBZRLE.code).putShort((short) length);
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
        ByteBuffer b = frame.buffer();
        b.putInt((int) page).put((byte) kind.code);
        int at = b.position();
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
        return frame.finish();
    }

    /** Size of the finished frame on the wire. */
    public int frameBytes() {
        return frame.frameBytes();
    }
}
