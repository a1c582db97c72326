/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.stream.StreamFixture.Frame;
import dev.ferry.stream.StreamFormatException.Problem;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Streams with XBZRLE records: they load to identical RAM; damaged deltas are refused. */
class XbzrleStreamTest {
    private static InProcessGuest source;
    private static byte[] stream;
    private static List<Frame> frames;

    @BeforeAll
    static void makeStream() throws Exception {
        source = StreamFixture.memtestGuest();
        stream = StreamFixture.migrate(source, StreamFormat.CAP_XBZRLE);
        frames = StreamFixture.frames(stream);
    }

    @AfterAll
    static void close() {
        source.close();
    }

    /** Index of the first PAGES frame holding an XBZRLE record, and that record's offset in the payload. */
    private static int[] firstDelta() {
        for (int i = 0; i < frames.size(); i++) {
            Frame f = frames.get(i);
            if (f.type() != FrameType.PAGES.code) {
                continue;
            }
            ByteBuffer b = f.payloadBuffer();
            int count = b.getInt(4);
            int at = 8;
            for (int r = 0; r < count; r++) {
                int kind = b.get(at + 4);
                if (kind == PageKind.XBZRLE.code) {
                    return new int[] {i, at};
                }
                at += 5 + (kind == PageKind.NORMAL.code ? 4096 : kind == PageKind.XBZRLE.code
                        ? 2 + Short.toUnsignedInt(b.getShort(at + 5)) : 0);
            }
        }
        throw new AssertionError("no XBZRLE record in the stream");
    }

    private static byte[] edit(java.util.function.BiConsumer<ByteBuffer, Integer> change) {
        int[] d = firstDelta();
        List<Frame> f = new ArrayList<>(frames);
        byte[] p = f.get(d[0]).payload().clone();
        change.accept(ByteBuffer.wrap(p), d[1]);
        f.set(d[0], new Frame(FrameType.PAGES.code, p));
        return StreamFixture.assemble(f);
    }

    @Test
    void deltasLoadToIdenticalRam() throws Exception {
        firstDelta();
        try (Guest loaded = StreamFixture.load(stream)) {
            assertThat(source.ramBlocks().get(0).memory().mismatch(loaded.ramBlocks().get(0).memory()))
                    .isEqualTo(-1);
            assertThat(loaded.check().passed()).isTrue();
        }
    }

    @Test
    void deltaWithAnEmptyNonZeroRunIsRefused() {
        // The delta's first bytes are ULEB128 lengths: a zero run then a non-zero run. Make the latter empty.
        byte[] s = edit((b, at) -> b.put(at + 7 + 1, (byte) 0));
        long lengthAt = deltaAt() + 1; // the non-zero-run length: the delta's second byte
        assertThatThrownBy(() -> StreamFixture.load(s)).isInstanceOfSatisfying(StreamFormatException.class, e -> {
            assertThat(e.problem()).isEqualTo(Problem.MALFORMED_PAYLOAD);
            assertThat(e.offset()).isEqualTo(lengthAt);
            // Located as every other payload error is: the frame, its number and the byte, then page and block.
            assertThat(e.getMessage()).isEqualTo("test stream: frame " + firstDelta()[0] + " (PAGES) at byte "
                    + lengthAt + ": page " + deltaPage() + " of block ram: invalid XBZRLE delta: empty non-zero run at delta offset 1");
        });
    }

    @Test
    void aZeroRunPastTheEndOfThePageIsLocatedAtItsLength() {
        // 0xff 0x7f: a zero run of 16383 bytes, the first field of the delta.
        byte[] s = edit((b, at) -> b.put(at + 7, (byte) 0xff).put(at + 8, (byte) 0x7f));
        assertThatThrownBy(() -> StreamFixture.load(s)).isInstanceOfSatisfying(StreamFormatException.class, e -> {
            assertThat(e.offset()).isEqualTo(deltaAt());
            assertThat(e.getMessage()).startsWith("test stream: frame " + firstDelta()[0] + " (PAGES) at byte "
                    + deltaAt() + ": page " + deltaPage() + " of block ram: invalid XBZRLE delta: run past the end of the page at delta "
                    + "offset 0 (zero run of 16383 bytes ends at page offset 16383, page length 4096)");
        });
    }

    @Test
    void aDeltaLongerThanWhatIsLeftOfTheFrameIsRefusedBeforeItIsDecoded() {
        // The frame ends one byte into the delta, which declares two.
        int[] d = firstDelta();
        List<Frame> f = new ArrayList<>(frames);
        byte[] p = java.util.Arrays.copyOf(f.get(d[0]).payload(), d[1] + 7 + 1);
        ByteBuffer.wrap(p).putShort(d[1] + 5, (short) 2);
        f.set(d[0], new Frame(FrameType.PAGES.code, p));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f)))
                .isInstanceOfSatisfying(StreamFormatException.class, e -> assertThat(e.getMessage())
                        .contains("(PAGES) at byte " + deltaAt() + ": XBZRLE delta needs 2 bytes, the payload has 1 "
                                + "left"));
    }

    @Test
    void aDeltaBeforeThePageWasEverSentIsRefused() {
        // The first PAGES frame with a delta moved before the bulk round's first PAGES frame.
        int[] d = firstDelta();
        List<Frame> f = new ArrayList<>(frames);
        int first = StreamFixture.indexOf(f, FrameType.PAGES);
        f.add(first, f.remove(d[0]));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f)))
                .isInstanceOfSatisfying(StreamFormatException.class, e -> assertThat(e.getMessage())
                        .contains("frame " + first + " (PAGES)").contains("XBZRLE delta for page " + deltaPage() + " of block ram, "
                                + "which was never sent whole"));
    }

    /** The page of the first XBZRLE record. */
    private static int deltaPage() {
        int[] d = firstDelta();
        return frames.get(d[0]).payloadBuffer().getInt(d[1]);
    }

    /** Stream offset of the first XBZRLE record's delta bytes. */
    private static long deltaAt() {
        int[] d = firstDelta();
        return StreamFixture.offsetOf(frames, d[0]) + StreamFormat.FRAME_HEADER + d[1] + 7;
    }

    @Test
    void deltaLengthOutOfRangeIsRefused() {
        byte[] s = edit((b, at) -> b.putShort(at + 5, (short) 0));
        assertThatThrownBy(() -> StreamFixture.load(s)).isInstanceOfSatisfying(StreamFormatException.class,
                e -> assertThat(e.getMessage()).contains("XBZRLE delta length 0 is outside [1, 4096]"));
    }

    @Test
    void deltaForAPageNeverSentWholeIsRefused() {
        // Point the delta at a page of the block beyond the memory test's range: sent only as a zero page.
        byte[] s = edit((b, at) -> b.putInt(at, 400));
        assertThatThrownBy(() -> StreamFixture.load(s)).isInstanceOfSatisfying(StreamFormatException.class,
                e -> assertThat(e.getMessage()).satisfiesAnyOf(
                        m -> assertThat(m).contains("which was never sent whole"),
                        m -> assertThat(m).contains("RAM digest mismatch")));
    }

    @Test
    void deltaWithoutTheCapabilityIsRefused() {
        List<Frame> f = new ArrayList<>(frames);
        int hello = StreamFixture.indexOf(f, FrameType.HELLO);
        byte[] p = f.get(hello).payload().clone();
        ByteBuffer.wrap(p).putInt(0, 0);
        f.set(hello, new Frame(FrameType.HELLO.code, p));
        assertThatThrownBy(() -> StreamFixture.load(StreamFixture.assemble(f)))
                .isInstanceOfSatisfying(StreamFormatException.class,
                        e -> assertThat(e.getMessage()).contains("was not negotiated"));
    }
}
