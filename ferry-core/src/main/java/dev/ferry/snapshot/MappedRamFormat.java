/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Pages;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Byte layout of a mapped-ram snapshot file, version 1 (docs/formats/mapped-ram.md): every page of guest RAM has a
 * fixed slot, so a page written again during a live save overwrites its slot and the file never grows beyond the
 * guest's RAM plus metadata. All integers are <b>little-endian</b>.
 *
 * <pre>
 *            0 +-------------------------------------+
 *              | header                    64 bytes  |
 *           64 +-------------------------------------+
 *              | block table        n x 320 bytes    |  entry i at 64 + 320 i
 *   64 + 320 n +-------------------------------------+  descriptor offset
 *              | guest descriptor                    |
 *              +-------------------------------------+  8-byte aligned
 *              | bitmap of block 0, block 1, ...     |  one bit per page: 1 = the page's slot holds it
 *              +-------------------------------------+  metadata length
 *              | (hole)                              |
 *   k x 1 MiB  +-------------------------------------+  pages offset of block 0
 *              | page slots of block 0               |  page i at pages offset + i x 4096
 *              +-------------------------------------+
 *              | (hole up to the next MiB)           |
 *   k' x 1 MiB +-------------------------------------+  pages offset of block 1 ...
 *              | page slots of block 1               |
 *              +-------------------------------------+  page areas end = execution state offset
 *              | execution state                     |
 *              +-------------------------------------+  file size - 64
 *              | footer                    64 bytes  |  written last, after an fsync of everything else
 *              +-------------------------------------+  file size
 *
 * Header (64 bytes at 0)
 *    0  u8[8]  magic "FERRYRAM"
 *    8  u16    version (1)
 *   10  u16    flags (0)
 *   12  u32    page size (4096)
 *   16  u32    block count n (1 .. 1024)
 *   20  u32    page-area alignment (1 MiB)
 *   24  u64    descriptor offset (64 + 320 n)
 *   32  u32    descriptor length (1 .. 1 MiB)
 *   36  u32    reserved (0)
 *   40  u64    metadata length: header, block table, descriptor and bitmaps all lie in [0, metadata length)
 *   48  u64    page areas end: where the execution state starts
 *   56  u32    reserved (0)
 *   60  u32    CRC32C of bytes 0 .. 59
 *
 * Block table entry (320 bytes)
 *    0  u64    length in bytes (4 KiB .. 1 TiB, a multiple of the page size)
 *    8  u64    guest physical address
 *   16  u64    bitmap offset (8-byte aligned)
 *   24  u64    bitmap length: 8 x ceil(pages / 64)
 *   32  u64    pages offset: a multiple of the page-area alignment
 *   40  u32    page size (4096)
 *   44  u16    id length (1 .. 255)
 *   46  u16    reserved (0)
 *   48  u8[256] id, UTF-8, zero padded
 *  304  u8[16] reserved (0)
 *
 * Guest descriptor (descriptor length bytes)
 *       u16 n, u8[n] backend name (1 .. 255 bytes)
 *       u16 p property count (at most 256); each: u16 n, u8[n] key (at most 4096); u32 m, u8[m] value (at most 64 KiB)
 *
 * Bitmap: little-endian u64 words; page i is bit (i mod 64) of word i / 64, least significant bit first, the layout
 * of {@link dev.ferry.memory.Bitmap}. Bits past the block's last page are 0.
 *
 * Footer (64 bytes at file size - 64)
 *    0  u8[8]  magic "FERRYEND"
 *    8  u8[8]  complete marker "COMPLETE"
 *   16  u64    execution state offset (= page areas end)
 *   24  u32    execution state length (at most 16 MiB)
 *   28  u32    RAM digest (as the migration stream's: CRC32C over the LE u32 CRC32C of every page)
 *   32  u64    pages present (set bits over all bitmaps)
 *   40  u64    save completed at, milliseconds since the epoch
 *   48  u32    metadata CRC32C: bytes [0, metadata length), then the execution state
 *   52  u32    reserved (0)
 *   56  u32    reserved (0)
 *   60  u32    CRC32C of bytes 0 .. 59
 * </pre>
 *
 * Why 1 MiB: the page areas must be aligned for {@code O_DIRECT} on whatever file system the file is written or later
 * copied to. Logical block sizes are 512 B or 4 KiB today, some stacks prefer 64 KiB, huge pages are 2 MiB; 1 MiB
 * (the alignment QEMU's reviewers asked for) covers every block size in use for at most 1 MiB of hole per block,
 * which costs no disk space.
 */
public final class MappedRamFormat {
    /** "FERRYRAM". */
    public static final byte[] MAGIC = "FERRYRAM".getBytes(StandardCharsets.US_ASCII);
    /** "FERRYEND". */
    public static final byte[] FOOTER_MAGIC = "FERRYEND".getBytes(StandardCharsets.US_ASCII);
    /** "COMPLETE". */
    public static final byte[] COMPLETE_MARKER = "COMPLETE".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;

    public static final int HEADER_SIZE = 64;
    public static final int HEADER_MAGIC = 0;
    public static final int HEADER_VERSION = 8;
    public static final int HEADER_FLAGS = 10;
    public static final int HEADER_PAGE_SIZE = 12;
    public static final int HEADER_BLOCK_COUNT = 16;
    public static final int HEADER_ALIGNMENT = 20;
    public static final int HEADER_DESCRIPTOR_OFFSET = 24;
    public static final int HEADER_DESCRIPTOR_LENGTH = 32;
    public static final int HEADER_METADATA_LENGTH = 40;
    public static final int HEADER_PAGE_AREAS_END = 48;
    public static final int HEADER_CRC = 60;

    public static final int BLOCK_ENTRY_SIZE = 320;
    public static final int BLOCK_LENGTH = 0;
    public static final int BLOCK_GUEST_ADDRESS = 8;
    public static final int BLOCK_BITMAP_OFFSET = 16;
    public static final int BLOCK_BITMAP_LENGTH = 24;
    public static final int BLOCK_PAGES_OFFSET = 32;
    public static final int BLOCK_PAGE_SIZE = 40;
    public static final int BLOCK_ID_LENGTH = 44;
    public static final int BLOCK_ID = 48;
    public static final int BLOCK_ID_CAPACITY = 256;

    public static final int FOOTER_SIZE = 64;
    public static final int FOOTER_MAGIC_OFFSET = 0;
    public static final int FOOTER_MARKER = 8;
    public static final int FOOTER_EXEC_OFFSET = 16;
    public static final int FOOTER_EXEC_LENGTH = 24;
    public static final int FOOTER_RAM_DIGEST = 28;
    public static final int FOOTER_PAGES_PRESENT = 32;
    public static final int FOOTER_SAVED_AT = 40;
    public static final int FOOTER_METADATA_CRC = 48;
    public static final int FOOTER_CRC = 60;

    /** Alignment of every page area (see the class comment for why). */
    public static final int PAGE_AREA_ALIGNMENT = 1 << 20;
    static final String ALIGNMENT_TEXT = "1 MiB";
    public static final int MAX_BLOCKS = Records.MAX_BLOCKS;
    public static final long MAX_BLOCK_LENGTH = Records.MAX_BLOCK_LENGTH;
    public static final int MAX_BLOCK_ID = Records.MAX_BLOCK_ID;
    public static final int MAX_DESCRIPTOR = 1 << 20;
    public static final int MAX_BACKEND_NAME = 255;
    public static final int MAX_PROPERTIES = Records.MAX_PROPERTIES;
    public static final int MAX_PROPERTY_KEY = Records.MAX_TEXT;
    public static final int MAX_PROPERTY_VALUE = Records.MAX_PROPERTY_VALUE;
    /** The stream's frame limit: any execution state that can migrate can be saved. */
    public static final int MAX_EXEC_STATE = StreamFormat.MAX_PAYLOAD;

    private MappedRamFormat() {
    }

    /** {@code value} rounded up to a multiple of {@code alignment} (a power of two). */
    public static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Bytes of the bitmap of a block of {@code pages} pages: whole u64 words. */
    public static long bitmapBytes(long pages) {
        return ((pages + 63) >>> 6) << 3;
    }

    /** Offset of block table entry {@code i}. */
    public static long blockEntryOffset(int i) {
        return HEADER_SIZE + (long) i * BLOCK_ENTRY_SIZE;
    }

    /** A little-endian heap buffer of {@code n} bytes. */
    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Encodes a guest descriptor as the descriptor section. */
    static byte[] encodeDescriptor(GuestDescriptor d) {
        byte[] backend = utf8(d.backend(), MAX_BACKEND_NAME, "backend name");
        if (d.properties().size() > MAX_PROPERTIES) {
            throw new IllegalArgumentException("guest descriptor has more than " + MAX_PROPERTIES + " properties");
        }
        int size = 2 + backend.length + 2;
        byte[][] keys = new byte[d.properties().size()][];
        byte[][] values = new byte[d.properties().size()][];
        int i = 0;
        for (Map.Entry<String, String> e : d.properties().entrySet()) {
            keys[i] = utf8(e.getKey(), MAX_PROPERTY_KEY, "property key");
            values[i] = utf8(e.getValue(), MAX_PROPERTY_VALUE, "property value");
            size += 2 + keys[i].length + 4 + values[i].length;
            i++;
        }
        if (size > MAX_DESCRIPTOR) {
            throw new IllegalArgumentException("guest descriptor of " + size + " bytes exceeds " + MAX_DESCRIPTOR);
        }
        ByteBuffer b = le(size);
        b.putShort((short) backend.length).put(backend).putShort((short) keys.length);
        for (int k = 0; k < keys.length; k++) {
            b.putShort((short) keys[k].length).put(keys[k]).putInt(values[k].length).put(values[k]);
        }
        return b.array();
    }

    private static byte[] utf8(String s, int max, String what) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > max) {
            throw new IllegalArgumentException(what + " longer than " + max + " bytes: " + s);
        }
        return b;
    }

    /** The header, with its CRC. */
    static ByteBuffer encodeHeader(int blockCount, long descriptorOffset, int descriptorLength, long metadataLength,
            long pageAreasEnd) {
        ByteBuffer h = le(HEADER_SIZE);
        h.put(HEADER_MAGIC, MAGIC);
        h.putShort(HEADER_VERSION, (short) VERSION);
        h.putShort(HEADER_FLAGS, (short) 0);
        h.putInt(HEADER_PAGE_SIZE, Pages.SIZE);
        h.putInt(HEADER_BLOCK_COUNT, blockCount);
        h.putInt(HEADER_ALIGNMENT, PAGE_AREA_ALIGNMENT);
        h.putLong(HEADER_DESCRIPTOR_OFFSET, descriptorOffset);
        h.putInt(HEADER_DESCRIPTOR_LENGTH, descriptorLength);
        h.putLong(HEADER_METADATA_LENGTH, metadataLength);
        h.putLong(HEADER_PAGE_AREAS_END, pageAreasEnd);
        h.putInt(HEADER_CRC, Crc.of(h, 0, HEADER_CRC));
        return h;
    }

    /** The footer, with its CRC. */
    static ByteBuffer encodeFooter(long execOffset, int execLength, int ramDigest, long pagesPresent, long savedAt,
            int metadataCrc) {
        ByteBuffer f = le(FOOTER_SIZE);
        f.put(FOOTER_MAGIC_OFFSET, FOOTER_MAGIC);
        f.put(FOOTER_MARKER, COMPLETE_MARKER);
        f.putLong(FOOTER_EXEC_OFFSET, execOffset);
        f.putInt(FOOTER_EXEC_LENGTH, execLength);
        f.putInt(FOOTER_RAM_DIGEST, ramDigest);
        f.putLong(FOOTER_PAGES_PRESENT, pagesPresent);
        f.putLong(FOOTER_SAVED_AT, savedAt);
        f.putInt(FOOTER_METADATA_CRC, metadataCrc);
        f.putInt(FOOTER_CRC, Crc.of(f, 0, FOOTER_CRC));
        return f;
    }

    /** CRC32C over part of a buffer, leaving its position and limit alone. */
    static final class Crc {
        private Crc() {
        }

        static int of(ByteBuffer b, int from, int to) {
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(b.duplicate().limit(to).position(from));
            return (int) crc.getValue();
        }
    }
}
