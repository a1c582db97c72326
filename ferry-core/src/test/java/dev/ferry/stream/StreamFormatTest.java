/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.stream.StreamFixture.Frame;
import dev.ferry.stream.StreamFormatException.Problem;
import java.io.IOException;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** One test per kind of damage to a migration stream: each is refused with a clear, located error. */
class StreamFormatTest {
    private static InProcessGuest source;
    private static byte[] stream;
    private static List<Frame> frames;

    @BeforeAll
    static void makeStream() throws Exception {
        source = StreamFixture.idleGuest();
        stream = StreamFixture.migrate(source);
        frames = StreamFixture.frames(stream);
    }

    @AfterAll
    static void close() {
        source.close();
    }

    @Test
    void validStreamLoadsToIdenticalRam() throws Exception {
        try (Guest loaded = StreamFixture.load(stream)) {
            for (int b = 0; b < source.ramBlocks().size(); b++) {
                RamBlock s = source.ramBlocks().get(b);
                assertThat(s.memory().mismatch(loaded.ramBlocks().get(b).memory())).isEqualTo(-1);
            }
            assertThat(loaded.check().passed()).isTrue();
        }
    }

    @Test
    void badMagic() {
        byte[] s = stream.clone();
        s[0] = 'X';
        assertRefused(s, Problem.BAD_MAGIC, "bad magic");
    }

    @Test
    void unsupportedVersion() {
        byte[] s = stream.clone();
        ByteBuffer b = ByteBuffer.wrap(s);
        b.putShort(8, (short) 2);
        CRC32C crc = new CRC32C();
        crc.update(s, 0, 12);
        b.putInt(12, (int) crc.getValue());
        assertRefused(s, Problem.UNSUPPORTED_VERSION, "version 2 is not supported");
    }

    @Test
    void headerChecksum() {
        byte[] s = stream.clone();
        s[13] ^= 1;
        assertRefused(s, Problem.BAD_CHECKSUM, "header checksum");
    }

    @Test
    void frameChecksum() {
        byte[] s = stream.clone();
        int at = StreamFixture.offsetOf(frames, StreamFixture.indexOf(frames, FrameType.PAGES));
        s[at + StreamFormat.FRAME_HEADER + 20] ^= 0x40;
        assertRefused(s, Problem.BAD_CHECKSUM, "checksum mismatch in frame");
    }

    @Test
    void emptyStream() {
        assertRefused(new byte[0], Problem.TRUNCATED, "empty");
    }

    @Test
    void truncatedInsideAFrame() {
        int at = StreamFixture.offsetOf(frames, StreamFixture.indexOf(frames, FrameType.PAGES));
        assertRefused(Arrays.copyOf(stream, at + 100), Problem.TRUNCATED, "ends inside frame");
    }

    @Test
    void connectionResetNamesTheStreamAndTheByte() {
        int at = StreamFixture.offsetOf(frames, StreamFixture.indexOf(frames, FrameType.PAGES)) + 100;
        ReadableByteChannel resetting = new ReadableByteChannel() {
            private int pos;

            @Override
            public int read(ByteBuffer dst) throws IOException {
                if (pos == at) {
                    throw new SocketException("Connection reset"); // as a socket whose peer went away
                }
                int n = Math.min(dst.remaining(), at - pos);
                dst.put(stream, pos, n);
                pos += n;
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        FrameReader reader = new FrameReader(resetting, "migration stream from 10.0.0.9:4444");
        StreamLoader loader = new StreamLoader(reader, null, StreamFormat.KNOWN_CAPABILITIES, new IncomingStats());
        assertThatThrownBy(loader::load)
                .isInstanceOf(IOException.class)
                .hasMessage("migration stream from 10.0.0.9:4444 broke off at byte " + at + ": Connection reset");
    }

    @Test
    void truncatedInsideAFrameHeader() {
        int at = StreamFixture.offsetOf(frames, StreamFixture.indexOf(frames, FrameType.PAGES));
        assertRefused(Arrays.copyOf(stream, at + 3), Problem.TRUNCATED, "inside a frame header");
    }

    @Test
    void truncatedAtAFrameBoundaryBeforeCompletion() {
        int at = StreamFixture.offsetOf(frames, StreamFixture.indexOf(frames, FrameType.COMPLETE));
        assertRefused(Arrays.copyOf(stream, at), Problem.TRUNCATED, "before the migration completed");
    }

    @Test
    void frameLengthBeyondTheLimitIsRefusedBeforeAllocating() {
        byte[] s = stream.clone();
        int at = StreamFixture.offsetOf(frames, 0);
        ByteBuffer.wrap(s).putInt(at + StreamFormat.LENGTH_OFFSET, StreamFormat.MAX_PAYLOAD + 1);
        assertRefused(s, Problem.FRAME_TOO_LARGE, "more than the limit");
        ByteBuffer.wrap(s).putInt(at + StreamFormat.LENGTH_OFFSET, -1);
        assertRefused(s, Problem.FRAME_TOO_LARGE, "4294967295 bytes");
    }

    @Test
    void unknownFrameType() {
        byte[] s = stream.clone();
        s[StreamFixture.offsetOf(frames, 2)] = 0x30;
        assertRefused(s, Problem.UNKNOWN_FRAME_TYPE, "unknown frame type 0x30");
    }

    @Test
    void pagesBeforeSetupIsUnexpected() {
        List<Frame> f = new ArrayList<>(frames);
        int setup = StreamFixture.indexOf(f, FrameType.SETUP);
        f.set(setup, f.get(StreamFixture.indexOf(f, FrameType.PAGES)));
        assertRefused(StreamFixture.assemble(f), Problem.UNEXPECTED_FRAME, "unexpected PAGES frame at byte 44 (frame 1): SETUP was expected");
    }

    @Test
    void returnPathFrameInTheStreamIsUnexpected() {
        List<Frame> f = new ArrayList<>(frames);
        f.add(StreamFixture.indexOf(f, FrameType.PAGES), new Frame(FrameType.HELLO_ACK.code, new byte[4]));
        assertRefused(StreamFixture.assemble(f), Problem.UNEXPECTED_FRAME, "unexpected HELLO_ACK frame");
    }

    @Test
    void blockIndexOutOfRange() {
        assertRefused(editPages(b -> b.putInt(0, 7)), Problem.OUT_OF_RANGE, "block index 7 is outside [0, 1]");
    }

    @Test
    void pageIndexOutOfRange() {
        // Block 0 has 256 pages.
        assertRefused(editPages(b -> b.putInt(8, 256)), Problem.OUT_OF_RANGE, "page index 256 is outside [0, 255]");
    }

    @Test
    void recordCountOutOfRange() {
        assertRefused(editPages(b -> b.putInt(4, 100_000)), Problem.OUT_OF_RANGE, "record count 100000");
        assertRefused(editPages(b -> b.putInt(4, 0)), Problem.OUT_OF_RANGE, "record count 0");
    }

    @Test
    void recordsLongerThanThePayload() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.PAGES);
        byte[] p = f.get(i).payload();
        f.set(i, new Frame(FrameType.PAGES.code, Arrays.copyOf(p, p.length - 100)));
        assertRefused(StreamFixture.assemble(f), Problem.MALFORMED_PAYLOAD, "needs");
    }

    @Test
    void fewerRecordsThanThePayloadHolds() {
        assertRefused(editPages(b -> b.putInt(4, b.getInt(4) - 1)), Problem.MALFORMED_PAYLOAD,
                "unexpected trailing bytes");
    }

    @Test
    void unknownPageKind() {
        assertRefused(editPages(b -> b.put(12, (byte) 9)), Problem.MALFORMED_PAYLOAD, "page kind 9");
    }

    @Test
    void xbzrleRecordWithoutTheCapability() {
        assertRefused(editPages(b -> b.put(12, (byte) PageKind.XBZRLE.code)), Problem.MALFORMED_PAYLOAD,
                "not negotiated");
    }

    @Test
    void impossibleBlockLengthInSetup() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.SETUP);
        byte[] p = f.get(i).payload().clone();
        // The last block's length field sits 12 bytes before the end (u64 length, u32 page size).
        ByteBuffer.wrap(p).putLong(p.length - 12, 1L << 50);
        f.set(i, new Frame(FrameType.SETUP.code, p));
        assertRefused(StreamFixture.assemble(f), Problem.IMPOSSIBLE_SIZE, "block length 1125899906842624");
    }

    /**
     * A SETUP of some 300 bytes declaring 1 TiB of RAM and 256 vCPUs: sized from it, the destination's bookkeeping
     * alone (a dirty bitmap per vCPU, the page digest) took 8 GiB and ended in "Java heap space". It is refused before
     * anything is made, naming both sizes.
     */
    @Test
    void setupDeclaringMoreRamThanTheMachineHasIsRefusedBeforeAnythingIsAllocated() {
        long tib = 1L << 40;
        List<Frame> f = List.of(frames.get(StreamFixture.indexOf(frames, FrameType.HELLO)),
                StreamFixture.setup(tib, 256, tib));
        assertRefused(StreamFixture.assemble(f), Problem.IMPOSSIBLE_SIZE, "declares 1099511627776 bytes (1.0 TiB) of"
                + " guest RAM, more than this machine's");
    }

    /**
     * The block list is within the machine, but the guest descriptor it comes with says 1 TiB and 256 vCPUs: the
     * guest is created (its RAM costs nothing until written) and refused for the disagreement, without its per-vCPU
     * bitmaps (made only when a guest first runs) taking the heap.
     */
    @Test
    void setupWhoseDescriptorDeclaresAHugeGuestIsRefusedWithoutExhaustingTheHeap() {
        List<Frame> f = List.of(frames.get(StreamFixture.indexOf(frames, FrameType.HELLO)),
                StreamFixture.setup(1L << 40, 256, 1L << 20));
        assertRefused(StreamFixture.assemble(f), Problem.MALFORMED_PAYLOAD, "setup block 0 is ram of 1048576 bytes,"
                + " but the guest's is ram of 1099511627776 bytes");
    }

    @Test
    void setupThatDisagreesWithItsGuest() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.SETUP);
        byte[] p = f.get(i).payload().clone();
        ByteBuffer.wrap(p).putLong(p.length - 12, 8L << 20);
        f.set(i, new Frame(FrameType.SETUP.code, p));
        assertRefused(StreamFixture.assemble(f), Problem.MALFORMED_PAYLOAD, "but the guest's is");
    }

    @Test
    void impossibleStringLength() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.HELLO);
        byte[] p = f.get(i).payload().clone();
        ByteBuffer.wrap(p).putShort(4, (short) 60000);
        f.set(i, new Frame(FrameType.HELLO.code, p));
        assertRefused(StreamFixture.assemble(f), Problem.IMPOSSIBLE_SIZE, "software length 60000 exceeds 4096");
    }

    @Test
    void trailingBytesInAPayload() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.END_OF_ROUND);
        f.set(i, new Frame(FrameType.END_OF_ROUND.code, Arrays.copyOf(f.get(i).payload(), 15)));
        assertRefused(StreamFixture.assemble(f), Problem.MALFORMED_PAYLOAD, "3 unexpected trailing bytes");
    }

    @Test
    void pageDataChangedWithAValidChecksumFailsTheRamDigest() {
        assertRefused(editPages(b -> {
            int at = firstNormalData(b);
            b.put(at + 100, (byte) (b.get(at + 100) ^ 1));
        }), Problem.DIGEST_MISMATCH, "RAM digest mismatch");
    }

    @Test
    void droppedPagesFrameLeavesPagesMissing() {
        List<Frame> f = new ArrayList<>(frames);
        f.remove(StreamFixture.indexOf(f, FrameType.PAGES));
        assertRefused(StreamFixture.assemble(f), Problem.INCOMPLETE, "was never received");
    }

    @Test
    void completionCountsThatDisagree() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.COMPLETE);
        byte[] p = f.get(i).payload().clone();
        ByteBuffer.wrap(p).putLong(0, ByteBuffer.wrap(p).getLong(0) + 1);
        f.set(i, new Frame(FrameType.COMPLETE.code, p));
        assertRefused(StreamFixture.assemble(f), Problem.INCOMPLETE, "page records");
    }

    @Test
    void missingExecutionState() {
        List<Frame> f = new ArrayList<>(frames);
        f.remove(StreamFixture.indexOf(f, FrameType.EXEC_STATE));
        int i = StreamFixture.indexOf(f, FrameType.COMPLETE);
        byte[] p = f.get(i).payload().clone();
        ByteBuffer.wrap(p).putLong(8, ByteBuffer.wrap(p).getLong(8) - 1);
        f.set(i, new Frame(FrameType.COMPLETE.code, p));
        assertRefused(StreamFixture.assemble(f), Problem.INCOMPLETE, "without execution state");
    }

    @Test
    void corruptExecutionStateIsAGuestError() {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.EXEC_STATE);
        byte[] p = f.get(i).payload();
        f.set(i, new Frame(FrameType.EXEC_STATE.code, Arrays.copyOf(p, p.length - 3)));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f))).isInstanceOf(GuestException.class)
                .hasMessageContaining("execution state truncated");
    }

    /** A file with bytes after its COMPLETE record loaded as verified: it is not the file that was written. */
    @Test
    void garbageAfterTheCompleteRecord() {
        byte[] s = Arrays.copyOf(stream, stream.length + 23);
        System.arraycopy("GARBAGE-GARBAGE-GARBAGE".getBytes(), 0, s, stream.length, 23);
        assertRefused(s, Problem.TRAILING_DATA, "test stream goes on after the COMPLETE record: data at byte "
                + stream.length + ", where it should end");
    }

    /** The same with a whole, valid frame after COMPLETE (a second stream body appended, say). */
    @Test
    void aFrameAfterTheCompleteRecord() {
        List<Frame> f = new ArrayList<>(frames);
        f.add(new Frame(FrameType.KEEPALIVE.code, new byte[0]));
        assertRefused(StreamFixture.assemble(f), Problem.TRAILING_DATA, "data at byte " + stream.length);
    }

    @Test
    void abortRecordIsReportedAsAnAbort() {
        List<Frame> f = new ArrayList<>(frames.subList(0, StreamFixture.indexOf(frames, FrameType.PAGES) + 1));
        byte[] reason = "policy said so".getBytes();
        ByteBuffer p = ByteBuffer.allocate(2 + reason.length).putShort((short) reason.length).put(reason);
        f.add(new Frame(FrameType.ABORT.code, p.array()));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f)))
                .isInstanceOf(dev.ferry.incoming.MigrationAbortedException.class)
                .hasMessageContaining("aborted by the source: policy said so");
    }

    /** The source's reason went to the terminal verbatim: escape sequences (here: clear the screen, set the title). */
    @Test
    void anAbortReasonWithControlCharactersIsMadePrintable() {
        List<Frame> f = new ArrayList<>(frames.subList(0, StreamFixture.indexOf(frames, FrameType.PAGES) + 1));
        byte[] reason = "\u001b[2J\u001b]0;owned\u0007done\r\nok\u202e"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer p = ByteBuffer.allocate(2 + reason.length).putShort((short) reason.length).put(reason);
        f.add(new Frame(FrameType.ABORT.code, p.array()));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f)))
                .isInstanceOf(dev.ferry.incoming.MigrationAbortedException.class)
                .hasMessage("migration aborted by the source: ?[2J?]0;owned?done??ok?");
    }

    /** Applies {@code edit} to the first PAGES payload and returns the re-assembled stream (valid CRCs). */
    private static byte[] editPages(java.util.function.Consumer<ByteBuffer> edit) {
        List<Frame> f = new ArrayList<>(frames);
        int i = StreamFixture.indexOf(f, FrameType.PAGES);
        byte[] p = f.get(i).payload().clone();
        edit.accept(ByteBuffer.wrap(p));
        f.set(i, new Frame(FrameType.PAGES.code, p));
        return StreamFixture.assemble(f);
    }

    private static int firstNormalData(ByteBuffer pages) {
        int count = pages.getInt(4);
        int at = 8;
        for (int r = 0; r < count; r++) {
            int kind = pages.get(at + 4);
            at += 5;
            if (kind == PageKind.NORMAL.code) {
                return at;
            }
        }
        throw new AssertionError("no normal page in the first batch");
    }

    private static void assertRefused(byte[] s, Problem problem, String message) {
        assertThatThrownBy(() -> StreamFixture.load(s)).isInstanceOfSatisfying(StreamFormatException.class,
                e -> {
                    assertThat(e.problem()).isEqualTo(problem);
                    assertThat(e.getMessage()).contains(message);
                });
    }
}
