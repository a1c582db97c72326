/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static dev.ferry.snapshot.MappedRamFormat.BLOCK_BITMAP_LENGTH;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_BITMAP_OFFSET;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_ID;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_ID_LENGTH;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_LENGTH;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_PAGES_OFFSET;
import static dev.ferry.snapshot.MappedRamFormat.BLOCK_PAGE_SIZE;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_EXEC_LENGTH;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_EXEC_OFFSET;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_MARKER;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_PAGES_PRESENT;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_SAVED_AT;
import static dev.ferry.snapshot.MappedRamFormat.FOOTER_SIZE;
import static dev.ferry.snapshot.MappedRamFormat.blockEntryOffset;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.snapshot.SnapshotFormatException.Problem;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One test per kind of damage to a mapped-ram file: each is refused, before any guest runs, with its problem and a
 * message that names the field and where it is. Edited files are resealed (header, metadata and footer CRCs
 * recomputed) so that each edit reaches the check that is about it.
 */
class MappedRamFormatTest {
    private static final AtomicInteger FILES = new AtomicInteger();
    private static Path dir;
    private static InProcessGuest source;
    private static Path good;
    private static byte[] bytes;

    @BeforeAll
    static void save() throws Exception {
        dir = Files.createTempDirectory("ferry-mapped-ram-test");
        // 259 pages in block 0: its bitmap's last word has bits past the last page, which must stay clear.
        source = InProcessGuest.create(new InProcessConfig(new long[] {259L * 4096, 512L << 10}, 1,
                "idle,zero=0.4,text=0.3", 42, 0));
        source.resume();
        while (!Boolean.TRUE.equals(source.counters().get("fill-complete"))) {
            Thread.sleep(5);
        }
        good = dir.resolve("good.snap");
        SnapshotFixture.saveMappedRam(source, good);
        bytes = Files.readAllBytes(good);
    }

    @AfterAll
    static void close() throws Exception {
        source.close();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    private static ByteBuffer copy() {
        return ByteBuffer.wrap(bytes.clone()).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int footer() {
        return bytes.length - FOOTER_SIZE;
    }

    private static long field(int offset) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(offset);
    }

    private static Path write(byte[] b) throws Exception {
        Path p = dir.resolve("edited-" + FILES.incrementAndGet() + ".snap");
        Files.write(p, b);
        return p;
    }

    private static Path resealed(ByteBuffer b) throws Exception {
        Path p = dir.resolve("edited-" + FILES.incrementAndGet() + ".snap");
        SnapshotFixture.reseal(b, p);
        return p;
    }

    private static void assertRefused(Path file, Problem problem, String fragment) {
        assertThatThrownBy(() -> SnapshotFixture.restore(file).close())
                .isInstanceOfSatisfying(SnapshotFormatException.class, e -> assertThat(e.problem()).as(e.getMessage())
                        .isEqualTo(problem))
                .hasMessageContaining(fragment).hasMessageContaining(file.toString());
    }

    @Test
    void validFileRestoresIdenticalRam() throws Exception {
        try (Guest g = SnapshotFixture.restore(good)) {
            for (int b = 0; b < source.ramBlocks().size(); b++) {
                assertThat(source.ramBlocks().get(b).memory().mismatch(g.ramBlocks().get(b).memory())).isEqualTo(-1);
            }
            assertThat(g.check().passed()).isTrue();
            assertThat(g.counters()).isEqualTo(source.counters());
        }
    }

    @Test
    void layoutIsAlignedAndBounded() throws Exception {
        try (FileChannel ch = FileChannel.open(good, StandardOpenOption.READ)) {
            MappedRamFile f = MappedRamFile.read(ch, "test", true);
            long ram = 0;
            for (MappedRamFile.Block b : f.blocks()) {
                assertThat(b.pagesOffset() % (1 << 20)).isZero();
                ram += b.length();
            }
            assertThat(f.fileSize()).isLessThanOrEqualTo(ram + f.blocks().size() * (1L << 20) + f.execLength()
                    + FOOTER_SIZE);
        }
    }

    @Test
    void emptyFile() throws Exception {
        assertRefused(write(new byte[0]), Problem.TRUNCATED, "is empty");
    }

    @Test
    void truncatedInsideTheHeader() throws Exception {
        assertRefused(write(Arrays.copyOf(bytes, 40)), Problem.TRUNCATED, "shorter than a mapped-ram header");
    }

    @Test
    void badMagic() throws Exception {
        byte[] b = bytes.clone();
        b[0] = 'X';
        assertRefused(write(b), Problem.BAD_MAGIC, "not a Ferry snapshot");
    }

    @Test
    void headerChecksum() throws Exception {
        ByteBuffer b = copy();
        b.putInt(MappedRamFormat.HEADER_ALIGNMENT, 4096);
        assertRefused(write(b.array()), Problem.BAD_CHECKSUM, "header checksum mismatch at byte 60");
    }

    @Test
    void unsupportedVersion() throws Exception {
        ByteBuffer b = copy();
        b.putShort(MappedRamFormat.HEADER_VERSION, (short) 2);
        assertRefused(resealed(b), Problem.UNSUPPORTED_VERSION, "version 2 is not supported");
    }

    @Test
    void unknownFlags() throws Exception {
        ByteBuffer b = copy();
        b.putShort(MappedRamFormat.HEADER_FLAGS, (short) 4);
        assertRefused(resealed(b), Problem.MALFORMED, "unknown header flags 0x4");
    }

    @Test
    void pageSizeOtherThan4096() throws Exception {
        ByteBuffer b = copy();
        b.putInt(MappedRamFormat.HEADER_PAGE_SIZE, 8192);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "page size 8192 at byte 12");
    }

    @Test
    void blockCountImpossible() throws Exception {
        ByteBuffer b = copy();
        b.putInt(MappedRamFormat.HEADER_BLOCK_COUNT, 0);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block count 0 at byte 16 is outside [1, 1024]");
        b.putInt(MappedRamFormat.HEADER_BLOCK_COUNT, -1);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block count 4294967295");
    }

    @Test
    void pageAreaAlignmentOtherThan1MiB() throws Exception {
        ByteBuffer b = copy();
        b.putInt(MappedRamFormat.HEADER_ALIGNMENT, 4096);
        assertRefused(resealed(b), Problem.MISALIGNED, "page-area alignment 4096 at byte 20 is not 1048576");
    }

    @Test
    void descriptorOffsetNotAfterTheBlockTable() throws Exception {
        ByteBuffer b = copy();
        b.putLong(MappedRamFormat.HEADER_DESCRIPTOR_OFFSET, 1L << 40);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "descriptor offset 1099511627776 at byte 24");
    }

    @Test
    void descriptorLengthImpossible() throws Exception {
        ByteBuffer b = copy();
        b.putInt(MappedRamFormat.HEADER_DESCRIPTOR_LENGTH, 2 << 20);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "descriptor length 2097152 at byte 32");
    }

    @Test
    void metadataLengthOutOfRange() throws Exception {
        ByteBuffer b = copy();
        b.putLong(MappedRamFormat.HEADER_METADATA_LENGTH, -8);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "metadata length 18446744073709551608 at byte 40");
    }

    @Test
    void pageAreasEndNotAPageBoundary() throws Exception {
        ByteBuffer b = copy();
        b.putLong(MappedRamFormat.HEADER_PAGE_AREAS_END, field(MappedRamFormat.HEADER_PAGE_AREAS_END) + 1);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "page areas end");
    }

    @Test
    void pageAreasEndBeyondTheFile() throws Exception {
        ByteBuffer b = copy();
        b.putLong(MappedRamFormat.HEADER_PAGE_AREAS_END, 1L << 40);
        assertRefused(resealed(b), Problem.INCOMPLETE, "before the end of its page areas (byte 1099511627776)");
    }

    @Test
    void footerMissing() throws Exception {
        assertRefused(write(Arrays.copyOf(bytes, footer())), Problem.INCOMPLETE, "incomplete: no footer");
        byte[] b = bytes.clone();
        Arrays.fill(b, footer(), b.length, (byte) 0);
        assertRefused(write(b), Problem.INCOMPLETE, "incomplete: no footer at byte " + footer());
    }

    @Test
    void bytesAppendedAfterTheFooter() throws Exception {
        byte[] b = Arrays.copyOf(bytes, bytes.length + 1);
        b[bytes.length] = 'X';
        assertRefused(write(b), Problem.MALFORMED, "the file goes on for 1 bytes after its footer at byte "
                + footer() + " (it ends at byte " + b.length + "): something was written to it after the save");
    }

    @Test
    void footerWithoutTheCompleteMarker() throws Exception {
        ByteBuffer b = copy();
        b.put(footer() + FOOTER_MARKER, "PARTIAL!".getBytes());
        assertRefused(resealed(b), Problem.INCOMPLETE, "lacks the complete marker");
    }

    @Test
    void footerChecksum() throws Exception {
        ByteBuffer b = copy();
        b.putLong(footer() + FOOTER_SAVED_AT, 0);
        assertRefused(write(b.array()), Problem.BAD_CHECKSUM, "footer checksum mismatch at byte " + (footer() + 60));
    }

    @Test
    void truncatedInThePageArea() throws Exception {
        assertRefused(write(Arrays.copyOf(bytes, 3 << 20)), Problem.INCOMPLETE,
                "ends at byte 3145728, before the end of its page areas");
    }

    @Test
    void metadataChecksumCoversTheBitmaps() throws Exception {
        ByteBuffer b = copy();
        int bitmap = (int) field((int) blockEntryOffset(0) + BLOCK_BITMAP_OFFSET);
        b.put(bitmap, (byte) (b.get(bitmap) ^ 1));
        assertRefused(write(b.array()), Problem.BAD_CHECKSUM, "metadata checksum mismatch");
    }

    @Test
    void metadataChecksumCoversTheExecutionState() throws Exception {
        ByteBuffer b = copy();
        int exec = (int) field(footer() + FOOTER_EXEC_OFFSET);
        b.put(exec + 3, (byte) (b.get(exec + 3) ^ 0x10));
        assertRefused(write(b.array()), Problem.BAD_CHECKSUM, "bitmaps or execution state are damaged");
    }

    @Test
    void executionStateOffsetNotAtTheEndOfThePageAreas() throws Exception {
        ByteBuffer b = copy();
        b.putLong(footer() + FOOTER_EXEC_OFFSET, field(footer() + FOOTER_EXEC_OFFSET) - 4096);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "is not the end of the page areas");
    }

    @Test
    void executionStateLengthImpossible() throws Exception {
        ByteBuffer b = copy();
        b.putInt(footer() + FOOTER_EXEC_LENGTH, 17 << 20);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "execution state length 17825792");
    }

    @Test
    void executionStateLengthDisagreesWithTheFileSize() throws Exception {
        ByteBuffer b = copy();
        b.putInt(footer() + FOOTER_EXEC_LENGTH, b.getInt(footer() + FOOTER_EXEC_LENGTH) - 1);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "cut or extended?");
    }

    @Test
    void blockLengthImpossible() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_LENGTH, 4095);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block table entry 0 at byte 64: block length 4095");
        b.putLong((int) blockEntryOffset(1) + BLOCK_LENGTH, 1L << 41);
        b.putLong((int) blockEntryOffset(0) + BLOCK_LENGTH, 259L * 4096);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block table entry 1 at byte 384: block length 2199023255552");
    }

    @Test
    void blockPageSizeOtherThan4096() throws Exception {
        ByteBuffer b = copy();
        b.putInt((int) blockEntryOffset(1) + BLOCK_PAGE_SIZE, 2 << 20);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "page size 2097152 is not 4096");
    }

    @Test
    void blockIdLengthImpossible() throws Exception {
        ByteBuffer b = copy();
        b.putShort((int) blockEntryOffset(0) + BLOCK_ID_LENGTH, (short) 0);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block id length 0 is outside [1, 255]");
        b.putShort((int) blockEntryOffset(0) + BLOCK_ID_LENGTH, (short) 300);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "block id length 300");
    }

    @Test
    void blockIdNotUtf8() throws Exception {
        ByteBuffer b = copy();
        b.put((int) blockEntryOffset(0) + BLOCK_ID, (byte) 0xff);
        assertRefused(resealed(b), Problem.MALFORMED, "block id at byte 112 is not valid UTF-8");
    }

    @Test
    void bitmapLengthDisagreesWithTheBlock() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_BITMAP_LENGTH, 8);
        assertRefused(resealed(b), Problem.MALFORMED, "bitmap length 8 does not match the block's 259 pages (40 bytes)");
    }

    @Test
    void bitmapBeyondTheFile() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(1) + BLOCK_BITMAP_OFFSET, 1L << 40);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "bitmap at byte 1099511627776 (16 bytes) runs past the end"
                + " of the file");
    }

    @Test
    void bitmapOutsideTheMetadataSection() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(1) + BLOCK_BITMAP_OFFSET, 1 << 20);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "is outside the free part of the metadata section");
        // overlapping the descriptor is outside it too
        b.putLong((int) blockEntryOffset(1) + BLOCK_BITMAP_OFFSET, 704);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "bitmap [704, 720)");
    }

    @Test
    void bitmapMisaligned() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_BITMAP_OFFSET, field((int) blockEntryOffset(0) + BLOCK_BITMAP_OFFSET) + 4);
        assertRefused(resealed(b), Problem.MISALIGNED, "is not a multiple of 8");
    }

    @Test
    void pageAreaMisaligned() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET, field((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET)
                + 4096);
        assertRefused(resealed(b), Problem.MISALIGNED, "is not a multiple of 1 MiB");
    }

    @Test
    void pageAreasOverlap() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(1) + BLOCK_PAGES_OFFSET, field((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET));
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "overlaps the page area of block 0");
    }

    @Test
    void pageAreaOverlapsTheMetadata() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET, 0);
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "overlaps the metadata");
    }

    @Test
    void pageAreaBeyondTheEndOfThePageAreas() throws Exception {
        ByteBuffer b = copy();
        b.putLong((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET, field(MappedRamFormat.HEADER_PAGE_AREAS_END));
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "runs past the end of the page areas");
        b.putLong((int) blockEntryOffset(0) + BLOCK_PAGES_OFFSET, -(1L << 20));
        assertRefused(resealed(b), Problem.OUT_OF_RANGE, "page area at byte 18446744073708503040");
    }

    @Test
    void bitsSetPastTheLastPage() throws Exception {
        ByteBuffer b = copy();
        int lastWord = (int) field((int) blockEntryOffset(0) + BLOCK_BITMAP_OFFSET) + 32;
        b.putLong(lastWord, b.getLong(lastWord) | (1L << 10));
        b.putLong(footer() + FOOTER_PAGES_PRESENT, b.getLong(footer() + FOOTER_PAGES_PRESENT) + 1);
        assertRefused(resealed(b), Problem.MALFORMED, "has bits set past its last page (258)");
    }

    @Test
    void pagesPresentDisagreesWithTheBitmaps() throws Exception {
        ByteBuffer b = copy();
        b.putLong(footer() + FOOTER_PAGES_PRESENT, b.getLong(footer() + FOOTER_PAGES_PRESENT) + 1);
        assertRefused(resealed(b), Problem.MALFORMED, "the footer says");
    }

    @Test
    void descriptorPropertyCountImpossible() throws Exception {
        ByteBuffer b = copy();
        int d = (int) field(MappedRamFormat.HEADER_DESCRIPTOR_OFFSET);
        int backend = Short.toUnsignedInt(b.getShort(d));
        b.putShort(d + 2 + backend, (short) 300);
        assertRefused(resealed(b), Problem.IMPOSSIBLE_SIZE, "property count 300 exceeds 256");
    }

    @Test
    void descriptorFieldRunsPastItsSection() throws Exception {
        ByteBuffer b = copy();
        int d = (int) field(MappedRamFormat.HEADER_DESCRIPTOR_OFFSET);
        int backend = Short.toUnsignedInt(b.getShort(d));
        int key = Short.toUnsignedInt(b.getShort(d + 4 + backend));
        b.putInt(d + 6 + backend + key, 60000);
        assertRefused(resealed(b), Problem.MALFORMED, "property value needs 60000 bytes");
    }

    @Test
    void pageDataDamagedIsADigestMismatch() throws Exception {
        ByteBuffer b = copy();
        try (FileChannel ch = FileChannel.open(good, StandardOpenOption.READ)) {
            MappedRamFile f = MappedRamFile.read(ch, "test", true);
            MappedRamFile.Block block = f.blocks().get(1);
            long page = block.present().nextSetBit(0);
            int at = (int) (block.pagesOffset() + page * 4096 + 100);
            b.put(at, (byte) (b.get(at) ^ 1));
        }
        assertRefused(write(b.array()), Problem.DIGEST_MISMATCH, "RAM digest mismatch");
    }

    @Test
    void blockTableThatDoesNotMatchTheGuest() throws Exception {
        ByteBuffer b = copy();
        b.put((int) blockEntryOffset(1) + BLOCK_ID + 3, (byte) 'X');
        assertRefused(resealed(b), Problem.MALFORMED, "block table entry 1 is ramX of 524288 bytes, but the guest's"
                + " block 1 is ram1");
    }

    @Test
    void unknownBackendIsAGuestError() throws Exception {
        ByteBuffer b = copy();
        int d = (int) field(MappedRamFormat.HEADER_DESCRIPTOR_OFFSET);
        b.put(d + 2, (byte) 'o');
        Path p = resealed(b);
        assertThatThrownBy(() -> SnapshotFixture.restore(p).close()).isInstanceOf(GuestException.class)
                .hasMessageContaining("no guest backend named 'onprocess'");
    }

    @Test
    void executionStateTheGuestRejectsIsAGuestError() throws Exception {
        ByteBuffer b = copy();
        int exec = (int) field(footer() + FOOTER_EXEC_OFFSET);
        b.put(exec, (byte) 0);
        Path p = resealed(b);
        assertThatThrownBy(() -> SnapshotFixture.restore(p).close()).isInstanceOf(GuestException.class)
                .hasMessageContaining("execution state");
    }
}
