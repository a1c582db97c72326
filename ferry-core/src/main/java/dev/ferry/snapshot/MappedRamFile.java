/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static dev.ferry.snapshot.MappedRamFormat.ALIGNMENT_TEXT;
import static dev.ferry.snapshot.MappedRamFormat.alignUp;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.snapshot.SnapshotFormatException.Problem;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The metadata of a mapped-ram file, read and checked: every offset, length and count is validated (against the
 * file's size, the other fields and the format's fixed limits) before it is used to read, allocate or loop. The
 * order: header (magic, own CRC, version), footer (present, complete marker, own CRC), then the metadata CRC over the
 * header, block table, descriptor, bitmaps and execution state, and only then the fields inside them.
 *
 * <p>{@link #read} with {@code requireComplete} false is for inspection: a file without its footer (a save that did
 * not finish) is described as far as its header, block table and descriptor go, and {@link #complete()} is false.
 */
public final class MappedRamFile {
    /** Largest metadata section a reader accepts: the bitmaps of 8 TiB of RAM. */
    public static final long MAX_METADATA = 256L << 20;
    /** Largest page-areas end a reader accepts (far beyond any real guest, small enough that sums cannot overflow). */
    public static final long MAX_FILE = 1L << 52;
    private static final int CRC_CHUNK = 1 << 20;

    /** One block table entry, checked, and its bitmap (null when the file is incomplete). */
    public record Block(int index, String id, long guestAddress, long length, long bitmapOffset, long bitmapLength,
            long pagesOffset, Bitmap present) {
        public long pages() {
            return length >>> Pages.SHIFT;
        }

        public long pagesPresent() {
            return present == null ? -1 : present.cardinality();
        }
    }

    private final String name;
    private long fileSize;
    private int version;
    private int blockCount;
    private long descriptorOffset;
    private int descriptorLength;
    private long metadataLength;
    private long pageAreasEnd;
    private boolean complete;
    private String incompleteReason;
    private long execOffset = -1;
    private int execLength = -1;
    private int ramDigest;
    private long pagesPresent;
    private long savedAt;
    private int metadataCrc;
    private byte[] executionState;
    private GuestDescriptor descriptor;
    private final List<Block> blocks = new ArrayList<>();

    private MappedRamFile(String name) {
        this.name = name;
    }

    /**
     * Reads and checks the metadata of the mapped-ram file open on {@code ch}.
     *
     * @param name names the file in messages ("snapshot /var/lib/x.snap")
     * @param requireComplete refuse (INCOMPLETE) a file without a complete footer; otherwise describe what there is
     */
    public static MappedRamFile read(FileChannel ch, String name, boolean requireComplete) throws IOException {
        MappedRamFile f = new MappedRamFile(name);
        f.parse(ch, requireComplete);
        return f;
    }

    private SnapshotFormatException error(Problem p, long at, String message) {
        return new SnapshotFormatException(p, at, name + ": " + message);
    }

    private void parse(FileChannel ch, boolean requireComplete) throws IOException {
        fileSize = ch.size();
        if (fileSize == 0) {
            throw new SnapshotFormatException(Problem.TRUNCATED, 0, name + " is empty: no snapshot header (a save"
                    + " interrupted as it started leaves such a file; it is incomplete)");
        }
        if (fileSize < MappedRamFormat.HEADER_SIZE) {
            throw new SnapshotFormatException(Problem.TRUNCATED, fileSize, name + " is " + fileSize
                    + " bytes long, shorter than a mapped-ram header (" + MappedRamFormat.HEADER_SIZE + " bytes):"
                    + " incomplete, or not a snapshot");
        }
        ByteBuffer h = readAt(ch, 0, MappedRamFormat.HEADER_SIZE, "the header");
        parseHeader(h);
        try {
            parseFooter(ch);
            complete = true;
        } catch (SnapshotFormatException e) {
            if (requireComplete || e.problem() != Problem.INCOMPLETE) {
                throw e;
            }
            incompleteReason = e.getMessage();
        }
        if (complete) {
            checkMetadataCrc(ch);
        } else if (descriptorOffset + descriptorLength > fileSize) {
            return; // killed before even the prologue was written: the header is all there is
        }
        parseBlockTable(readAt(ch, MappedRamFormat.HEADER_SIZE, (int) (descriptorOffset - MappedRamFormat.HEADER_SIZE),
                "the block table"));
        descriptor = parseDescriptor(readAt(ch, descriptorOffset, descriptorLength, "the guest descriptor"));
        if (complete) {
            readBitmaps(ch);
        }
    }

    private void parseHeader(ByteBuffer h) throws SnapshotFormatException {
        byte[] magic = new byte[8];
        h.get(MappedRamFormat.HEADER_MAGIC, magic);
        if (!Arrays.equals(magic, MappedRamFormat.MAGIC)) {
            throw new SnapshotFormatException(Problem.BAD_MAGIC, 0, name + " is not a Ferry mapped-ram snapshot: bad"
                    + " magic 0x" + hex(magic) + " at byte 0 (expected \"FERRYRAM\")");
        }
        int stored = h.getInt(MappedRamFormat.HEADER_CRC);
        int computed = MappedRamFormat.Crc.of(h, 0, MappedRamFormat.HEADER_CRC);
        if (stored != computed) {
            throw error(Problem.BAD_CHECKSUM, MappedRamFormat.HEADER_CRC, "header checksum mismatch at byte "
                    + MappedRamFormat.HEADER_CRC + " (stored 0x" + Integer.toHexString(stored) + ", computed 0x"
                    + Integer.toHexString(computed) + ")");
        }
        version = Short.toUnsignedInt(h.getShort(MappedRamFormat.HEADER_VERSION));
        if (version != MappedRamFormat.VERSION) {
            throw error(Problem.UNSUPPORTED_VERSION, MappedRamFormat.HEADER_VERSION, "mapped-ram version " + version
                    + " is not supported (this Ferry reads version " + MappedRamFormat.VERSION + ")");
        }
        int flags = Short.toUnsignedInt(h.getShort(MappedRamFormat.HEADER_FLAGS));
        if (flags != 0 || h.getInt(36) != 0 || h.getInt(56) != 0) {
            throw error(Problem.MALFORMED, MappedRamFormat.HEADER_FLAGS, "unknown header flags 0x"
                    + Integer.toHexString(flags) + " or reserved fields not zero in the header");
        }
        long pageSize = Integer.toUnsignedLong(h.getInt(MappedRamFormat.HEADER_PAGE_SIZE));
        if (pageSize != Pages.SIZE) {
            throw error(Problem.OUT_OF_RANGE, MappedRamFormat.HEADER_PAGE_SIZE, "page size " + pageSize
                    + " at byte " + MappedRamFormat.HEADER_PAGE_SIZE + " is not " + Pages.SIZE);
        }
        long n = Integer.toUnsignedLong(h.getInt(MappedRamFormat.HEADER_BLOCK_COUNT));
        if (n < 1 || n > MappedRamFormat.MAX_BLOCKS) {
            throw error(Problem.IMPOSSIBLE_SIZE, MappedRamFormat.HEADER_BLOCK_COUNT, "block count " + n + " at byte "
                    + MappedRamFormat.HEADER_BLOCK_COUNT + " is outside [1, " + MappedRamFormat.MAX_BLOCKS + "]");
        }
        blockCount = (int) n;
        long alignment = Integer.toUnsignedLong(h.getInt(MappedRamFormat.HEADER_ALIGNMENT));
        if (alignment != MappedRamFormat.PAGE_AREA_ALIGNMENT) {
            throw error(Problem.MISALIGNED, MappedRamFormat.HEADER_ALIGNMENT, "page-area alignment " + alignment
                    + " at byte " + MappedRamFormat.HEADER_ALIGNMENT + " is not " + MappedRamFormat.PAGE_AREA_ALIGNMENT
                    + " (" + ALIGNMENT_TEXT + ")");
        }
        descriptorOffset = h.getLong(MappedRamFormat.HEADER_DESCRIPTOR_OFFSET);
        long tableEnd = MappedRamFormat.blockEntryOffset(blockCount);
        if (descriptorOffset != tableEnd) {
            throw error(Problem.OUT_OF_RANGE, MappedRamFormat.HEADER_DESCRIPTOR_OFFSET, "descriptor offset "
                    + Long.toUnsignedString(descriptorOffset) + " at byte " + MappedRamFormat.HEADER_DESCRIPTOR_OFFSET
                    + " is not the end of the block table (" + tableEnd + ")");
        }
        long dl = Integer.toUnsignedLong(h.getInt(MappedRamFormat.HEADER_DESCRIPTOR_LENGTH));
        if (dl < 1 || dl > MappedRamFormat.MAX_DESCRIPTOR) {
            throw error(Problem.IMPOSSIBLE_SIZE, MappedRamFormat.HEADER_DESCRIPTOR_LENGTH, "descriptor length " + dl
                    + " at byte " + MappedRamFormat.HEADER_DESCRIPTOR_LENGTH + " is outside [1, "
                    + MappedRamFormat.MAX_DESCRIPTOR + "]");
        }
        descriptorLength = (int) dl;
        metadataLength = h.getLong(MappedRamFormat.HEADER_METADATA_LENGTH);
        if (metadataLength < descriptorOffset + descriptorLength || metadataLength > MAX_METADATA) {
            throw error(Problem.OUT_OF_RANGE, MappedRamFormat.HEADER_METADATA_LENGTH, "metadata length "
                    + Long.toUnsignedString(metadataLength) + " at byte " + MappedRamFormat.HEADER_METADATA_LENGTH
                    + " is outside [" + (descriptorOffset + descriptorLength) + ", " + MAX_METADATA + "]");
        }
        pageAreasEnd = h.getLong(MappedRamFormat.HEADER_PAGE_AREAS_END);
        long firstPages = alignUp(metadataLength, MappedRamFormat.PAGE_AREA_ALIGNMENT);
        if (pageAreasEnd < firstPages + Pages.SIZE || pageAreasEnd > MAX_FILE || pageAreasEnd % Pages.SIZE != 0) {
            throw error(Problem.OUT_OF_RANGE, MappedRamFormat.HEADER_PAGE_AREAS_END, "page areas end "
                    + Long.toUnsignedString(pageAreasEnd) + " at byte " + MappedRamFormat.HEADER_PAGE_AREAS_END
                    + " is not a page boundary in [" + (firstPages + Pages.SIZE) + ", " + MAX_FILE + "]");
        }
    }

    private void parseFooter(FileChannel ch) throws IOException {
        long footerAt = fileSize - MappedRamFormat.FOOTER_SIZE;
        if (fileSize < pageAreasEnd) {
            throw error(Problem.INCOMPLETE, fileSize, "incomplete: the file ends at byte " + fileSize
                    + ", before the end of its page areas (byte " + pageAreasEnd + "), and has no footer: the save"
                    + " did not finish");
        }
        if (fileSize < pageAreasEnd + MappedRamFormat.FOOTER_SIZE) {
            throw error(Problem.INCOMPLETE, fileSize, "incomplete: no footer after the page areas (the file ends at"
                    + " byte " + fileSize + "): the save did not finish, or the file was cut short");
        }
        ByteBuffer f = readAt(ch, footerAt, MappedRamFormat.FOOTER_SIZE, "the footer");
        byte[] magic = new byte[8];
        f.get(MappedRamFormat.FOOTER_MAGIC_OFFSET, magic);
        if (!Arrays.equals(magic, MappedRamFormat.FOOTER_MAGIC)) {
            long earlier = completeFooterBefore(ch, fileSize);
            if (earlier >= 0) {
                long extra = fileSize - earlier - MappedRamFormat.FOOTER_SIZE;
                throw error(Problem.MALFORMED, earlier + MappedRamFormat.FOOTER_SIZE, "the file goes on for " + extra
                        + " bytes after its footer at byte " + earlier + " (it ends at byte " + fileSize
                        + "): something was written to it after the save");
            }
            throw error(Problem.INCOMPLETE, footerAt, "incomplete: no footer at byte " + footerAt
                    + " (the save did not finish, or the file was cut short)");
        }
        byte[] marker = new byte[8];
        f.get(MappedRamFormat.FOOTER_MARKER, marker);
        if (!Arrays.equals(marker, MappedRamFormat.COMPLETE_MARKER)) {
            throw error(Problem.INCOMPLETE, footerAt + MappedRamFormat.FOOTER_MARKER, "incomplete: the footer at"
                    + " byte " + footerAt + " lacks the complete marker (found 0x" + hex(marker) + ")");
        }
        int stored = f.getInt(MappedRamFormat.FOOTER_CRC);
        int computed = MappedRamFormat.Crc.of(f, 0, MappedRamFormat.FOOTER_CRC);
        if (stored != computed) {
            throw error(Problem.BAD_CHECKSUM, footerAt + MappedRamFormat.FOOTER_CRC, "footer checksum mismatch at"
                    + " byte " + (footerAt + MappedRamFormat.FOOTER_CRC) + " (stored 0x" + Integer.toHexString(stored)
                    + ", computed 0x" + Integer.toHexString(computed) + ")");
        }
        if (f.getInt(52) != 0 || f.getInt(56) != 0) {
            throw error(Problem.MALFORMED, footerAt + 52, "reserved fields of the footer at byte " + footerAt
                    + " are not zero");
        }
        execOffset = f.getLong(MappedRamFormat.FOOTER_EXEC_OFFSET);
        if (execOffset != pageAreasEnd) {
            throw error(Problem.OUT_OF_RANGE, footerAt + MappedRamFormat.FOOTER_EXEC_OFFSET, "execution state offset "
                    + Long.toUnsignedString(execOffset) + " (footer, byte " + (footerAt + MappedRamFormat.FOOTER_EXEC_OFFSET)
                    + ") is not the end of the page areas (" + pageAreasEnd + ")");
        }
        long el = Integer.toUnsignedLong(f.getInt(MappedRamFormat.FOOTER_EXEC_LENGTH));
        if (el > MappedRamFormat.MAX_EXEC_STATE) {
            throw error(Problem.IMPOSSIBLE_SIZE, footerAt + MappedRamFormat.FOOTER_EXEC_LENGTH, "execution state"
                    + " length " + el + " (footer, byte " + (footerAt + MappedRamFormat.FOOTER_EXEC_LENGTH)
                    + ") exceeds the limit of " + MappedRamFormat.MAX_EXEC_STATE);
        }
        execLength = (int) el;
        if (execOffset + execLength != footerAt) {
            throw error(Problem.OUT_OF_RANGE, footerAt, "the footer places the execution state at [" + execOffset
                    + ", " + (execOffset + execLength) + ") and itself right after it, but it lies at byte " + footerAt
                    + " (the file is " + fileSize + " bytes: cut or extended?)");
        }
        ramDigest = f.getInt(MappedRamFormat.FOOTER_RAM_DIGEST);
        pagesPresent = f.getLong(MappedRamFormat.FOOTER_PAGES_PRESENT);
        savedAt = f.getLong(MappedRamFormat.FOOTER_SAVED_AT);
        metadataCrc = f.getInt(MappedRamFormat.FOOTER_METADATA_CRC);
    }

    private void checkMetadataCrc(FileChannel ch) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer chunk = ByteBuffer.allocateDirect(CRC_CHUNK);
        for (long at = 0; at < metadataLength; at += CRC_CHUNK) {
            int n = (int) Math.min(CRC_CHUNK, metadataLength - at);
            chunk.clear().limit(n);
            fill(ch, chunk, at, "the metadata");
            crc.update(chunk.flip());
        }
        executionState = new byte[execLength];
        fill(ch, ByteBuffer.wrap(executionState), execOffset, "the execution state");
        crc.update(executionState);
        int computed = (int) crc.getValue();
        if (computed != metadataCrc) {
            throw error(Problem.BAD_CHECKSUM, fileSize - MappedRamFormat.FOOTER_SIZE + MappedRamFormat.FOOTER_METADATA_CRC,
                    "metadata checksum mismatch (stored 0x" + Integer.toHexString(metadataCrc) + " in the footer,"
                    + " computed 0x" + Integer.toHexString(computed) + "): the header, block table, descriptor,"
                    + " bitmaps or execution state are damaged");
        }
    }

    private void parseBlockTable(ByteBuffer t) throws SnapshotFormatException {
        long bitmapFloor = descriptorOffset + descriptorLength;
        long pagesFloor = alignUp(metadataLength, MappedRamFormat.PAGE_AREA_ALIGNMENT);
        long limit = complete ? fileSize : Long.MAX_VALUE;
        for (int i = 0; i < blockCount; i++) {
            int e = i * MappedRamFormat.BLOCK_ENTRY_SIZE;
            long at = MappedRamFormat.HEADER_SIZE + e;
            String where = "block table entry " + i + " at byte " + at;
            long length = t.getLong(e + MappedRamFormat.BLOCK_LENGTH);
            if (length < Pages.SIZE || length > MappedRamFormat.MAX_BLOCK_LENGTH || length % Pages.SIZE != 0) {
                throw error(Problem.IMPOSSIBLE_SIZE, at, where + ": block length " + Long.toUnsignedString(length)
                        + " is not a multiple of " + Pages.SIZE + " in [" + Pages.SIZE + ", "
                        + MappedRamFormat.MAX_BLOCK_LENGTH + "]");
            }
            long pageSize = Integer.toUnsignedLong(t.getInt(e + MappedRamFormat.BLOCK_PAGE_SIZE));
            if (pageSize != Pages.SIZE) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_PAGE_SIZE, where + ": page size "
                        + pageSize + " is not " + Pages.SIZE);
            }
            int idLength = Short.toUnsignedInt(t.getShort(e + MappedRamFormat.BLOCK_ID_LENGTH));
            if (idLength < 1 || idLength > MappedRamFormat.MAX_BLOCK_ID) {
                throw error(Problem.IMPOSSIBLE_SIZE, at + MappedRamFormat.BLOCK_ID_LENGTH, where + ": block id length "
                        + idLength + " is outside [1, " + MappedRamFormat.MAX_BLOCK_ID + "]");
            }
            if (t.getShort(e + 46) != 0) {
                throw error(Problem.MALFORMED, at + 46, where + ": reserved field is not zero");
            }
            String id = utf8(t.slice(e + MappedRamFormat.BLOCK_ID, idLength), at + MappedRamFormat.BLOCK_ID,
                    where + ": block id");
            long pages = length >>> Pages.SHIFT;
            long bitmapOffset = t.getLong(e + MappedRamFormat.BLOCK_BITMAP_OFFSET);
            long bitmapLength = t.getLong(e + MappedRamFormat.BLOCK_BITMAP_LENGTH);
            long expectedBitmap = MappedRamFormat.bitmapBytes(pages);
            if (bitmapLength != expectedBitmap) {
                throw error(Problem.MALFORMED, at + MappedRamFormat.BLOCK_BITMAP_LENGTH, where + ": bitmap length "
                        + Long.toUnsignedString(bitmapLength) + " does not match the block's " + pages + " pages ("
                        + expectedBitmap + " bytes)");
            }
            if (bitmapOffset < 0 || bitmapOffset > limit - bitmapLength) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_BITMAP_OFFSET, where + ": bitmap at byte "
                        + Long.toUnsignedString(bitmapOffset) + " (" + bitmapLength + " bytes) runs past the end of"
                        + " the file (" + fileSize + " bytes)");
            }
            if ((bitmapOffset & 7) != 0) {
                throw error(Problem.MISALIGNED, at + MappedRamFormat.BLOCK_BITMAP_OFFSET, where + ": bitmap offset "
                        + bitmapOffset + " is not a multiple of 8");
            }
            if (bitmapOffset < bitmapFloor || bitmapOffset + bitmapLength > metadataLength) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_BITMAP_OFFSET, where + ": bitmap ["
                        + bitmapOffset + ", " + (bitmapOffset + bitmapLength) + ") is outside the free part of the"
                        + " metadata section [" + bitmapFloor + ", " + metadataLength + ")");
            }
            bitmapFloor = bitmapOffset + bitmapLength;
            long pagesOffset = t.getLong(e + MappedRamFormat.BLOCK_PAGES_OFFSET);
            if (pagesOffset < 0 || pagesOffset > pageAreasEnd - length) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_PAGES_OFFSET, where + ": page area at byte "
                        + Long.toUnsignedString(pagesOffset) + " (" + length + " bytes) runs past the end of the page"
                        + " areas (byte " + pageAreasEnd + ")");
            }
            if (pagesOffset % MappedRamFormat.PAGE_AREA_ALIGNMENT != 0) {
                throw error(Problem.MISALIGNED, at + MappedRamFormat.BLOCK_PAGES_OFFSET, where + ": page area offset "
                        + pagesOffset + " is not a multiple of " + ALIGNMENT_TEXT);
            }
            if (pagesOffset < pagesFloor) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_PAGES_OFFSET, where + ": page area at byte "
                        + pagesOffset + " overlaps " + (i == 0 ? "the metadata" : "the page area of block " + (i - 1))
                        + ", which ends at byte " + pagesFloor);
            }
            pagesFloor = pagesOffset + length;
            if (i == blockCount - 1 && pagesFloor != pageAreasEnd) {
                throw error(Problem.OUT_OF_RANGE, at + MappedRamFormat.BLOCK_PAGES_OFFSET, where + ": the last page"
                        + " area ends at byte " + pagesFloor + ", the header says the page areas end at byte "
                        + pageAreasEnd);
            }
            long gpa = t.getLong(e + MappedRamFormat.BLOCK_GUEST_ADDRESS);
            blocks.add(new Block(i, id, gpa, length, bitmapOffset, bitmapLength, pagesOffset, null));
        }
    }

    private GuestDescriptor parseDescriptor(ByteBuffer d) throws SnapshotFormatException {
        Fields r = new Fields(d, descriptorOffset, "the guest descriptor");
        String backend = r.string16("backend name", 1, MappedRamFormat.MAX_BACKEND_NAME);
        int np = r.u16("property count");
        if (np > MappedRamFormat.MAX_PROPERTIES) {
            throw r.error(Problem.IMPOSSIBLE_SIZE, "property count " + np + " exceeds " + MappedRamFormat.MAX_PROPERTIES);
        }
        Map<String, String> props = new LinkedHashMap<>();
        for (int i = 0; i < np; i++) {
            String key = r.string16("property key", 0, MappedRamFormat.MAX_PROPERTY_KEY);
            String value = r.string32("property value", MappedRamFormat.MAX_PROPERTY_VALUE);
            if (props.put(key, value) != null) {
                throw r.error(Problem.MALFORMED, "property '" + key + "' given twice");
            }
        }
        if (d.hasRemaining()) {
            throw r.error(Problem.MALFORMED, d.remaining() + " unexpected trailing bytes");
        }
        return new GuestDescriptor(backend, props);
    }

    private void readBitmaps(FileChannel ch) throws IOException {
        long total = 0;
        for (int i = 0; i < blocks.size(); i++) {
            Block b = blocks.get(i);
            Bitmap bits = new Bitmap(b.pages());
            ByteBuffer raw = readAt(ch, b.bitmapOffset(), (int) b.bitmapLength(), "the bitmap of block " + b.id());
            raw.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(bits.words());
            long[] words = bits.words();
            int tail = (int) (b.pages() & 63);
            if (tail != 0 && (words[words.length - 1] >>> tail) != 0) {
                throw error(Problem.MALFORMED, b.bitmapOffset() + b.bitmapLength() - 8, "the bitmap of block " + b.id()
                        + " has bits set past its last page (" + (b.pages() - 1) + ")");
            }
            total += bits.cardinality();
            blocks.set(i, new Block(b.index(), b.id(), b.guestAddress(), b.length(), b.bitmapOffset(), b.bitmapLength(),
                    b.pagesOffset(), bits));
        }
        if (total != pagesPresent) {
            throw error(Problem.MALFORMED, fileSize - MappedRamFormat.FOOTER_SIZE + MappedRamFormat.FOOTER_PAGES_PRESENT,
                    "the bitmaps mark " + total + " pages present, the footer says " + pagesPresent);
        }
    }

    /** How far back from the end a footer is looked for when the file does not end with one. */
    private static final int APPENDED_SEARCH = 1 << 20;

    /**
     * Where a whole complete footer (magic and complete marker) lies in the last {@link #APPENDED_SEARCH} bytes
     * before {@code end}, after the page areas; -1 if none. A file that does not end with its footer but has one shortly
     * before was appended to, not cut short, and its error says so.
     */
    private long completeFooterBefore(FileChannel ch, long end) throws IOException {
        long from = Math.max(pageAreasEnd, end - APPENDED_SEARCH);
        if (end <= from) {
            return -1;
        }
        ByteBuffer tail = readAt(ch, from, (int) (end - from), "the bytes before the end");
        for (int i = tail.limit() - MappedRamFormat.FOOTER_SIZE; i >= 0; i--) {
            if (tail.get(i) == MappedRamFormat.FOOTER_MAGIC[0]
                    && tail.slice(i, 8).equals(ByteBuffer.wrap(MappedRamFormat.FOOTER_MAGIC))
                    && tail.slice(i + MappedRamFormat.FOOTER_MARKER, 8)
                            .equals(ByteBuffer.wrap(MappedRamFormat.COMPLETE_MARKER))) {
                return from + i;
            }
        }
        return -1;
    }

    private ByteBuffer readAt(FileChannel ch, long at, int n, String what) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        fill(ch, b, at, what);
        return b.flip();
    }

    private void fill(FileChannel ch, ByteBuffer b, long at, String what) throws IOException {
        long start = at;
        int want = b.remaining();
        while (b.hasRemaining()) {
            int r = ch.read(b, at);
            if (r < 0) {
                throw error(Problem.TRUNCATED, at, "the file ends at byte " + at + " inside " + what + " ([" + start
                        + ", " + (start + want) + "))");
            }
            at += r;
        }
    }

    private String utf8(ByteBuffer b, long at, String what) throws SnapshotFormatException {
        try {
            CharBuffer c = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b);
            return c.toString();
        } catch (CharacterCodingException e) {
            throw error(Problem.MALFORMED, at, what + " at byte " + at + " is not valid UTF-8");
        }
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

    /** Reads the descriptor's fields, checking each fits before reading it. */
    private final class Fields {
        private final ByteBuffer b;
        private final long base;
        private final String section;

        Fields(ByteBuffer b, long base, String section) {
            this.b = b;
            this.base = base;
            this.section = section;
        }

        SnapshotFormatException error(Problem p, String message) {
            long at = base + b.position();
            return MappedRamFile.this.error(p, at, section + " at byte " + at + ": " + message);
        }

        private void need(long n, String field) throws SnapshotFormatException {
            if (b.remaining() < n) {
                throw error(Problem.MALFORMED, field + " needs " + n + " bytes, " + b.remaining() + " are left");
            }
        }

        int u16(String field) throws SnapshotFormatException {
            need(2, field);
            return Short.toUnsignedInt(b.getShort());
        }

        String string16(String field, int min, int max) throws SnapshotFormatException {
            int n = u16(field + " length");
            if (n < min || n > max) {
                b.position(b.position() - 2);
                throw error(Problem.IMPOSSIBLE_SIZE, field + " length " + n + " is outside [" + min + ", " + max + "]");
            }
            return string(n, field);
        }

        String string32(String field, int max) throws SnapshotFormatException {
            need(4, field + " length");
            long n = Integer.toUnsignedLong(b.getInt());
            if (n > max) {
                b.position(b.position() - 4);
                throw error(Problem.IMPOSSIBLE_SIZE, field + " length " + n + " exceeds " + max);
            }
            return string((int) n, field);
        }

        private String string(int n, String field) throws SnapshotFormatException {
            need(n, field);
            long at = base + b.position();
            String s = utf8(b.slice(b.position(), n), at, section + ": " + field);
            b.position(b.position() + n);
            return s;
        }
    }

    public String name() {
        return name;
    }

    public long fileSize() {
        return fileSize;
    }

    public int version() {
        return version;
    }

    /** Whether the footer is there, with its complete marker, and everything it covers checked out. */
    public boolean complete() {
        return complete;
    }

    /** Why the file is not complete (null when it is). */
    public String incompleteReason() {
        return incompleteReason;
    }

    public long metadataLength() {
        return metadataLength;
    }

    public long pageAreasEnd() {
        return pageAreasEnd;
    }

    public long execOffset() {
        return execOffset;
    }

    public int execLength() {
        return execLength;
    }

    /** The execution state (null when the file is incomplete). */
    public byte[] executionState() {
        return executionState;
    }

    public int ramDigest() {
        return ramDigest;
    }

    public long pagesPresent() {
        return pagesPresent;
    }

    public long savedAtMillis() {
        return savedAt;
    }

    public int metadataCrc() {
        return metadataCrc;
    }

    /** The guest descriptor (null if the file ends before it). */
    public GuestDescriptor descriptor() {
        return descriptor;
    }

    public int blockCount() {
        return blockCount;
    }

    public List<Block> blocks() {
        return List.copyOf(blocks);
    }
}
