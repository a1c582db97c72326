/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.memory.Pages;
import java.io.ByteArrayInputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A PAGES frame's CRC is put together from its pages' CRCs on both ends (no second pass over the pages): it must
 * equal the CRC of the frame's bytes, and any damaged byte must still fail it.
 */
class PageBatchChecksumTest {
    private static final CRC32C CRC = new CRC32C();

    /** A batch of random zero and normal records; with {@code tellCrcs} the writer passes each page's CRC. */
    private static byte[] batch(long seed, boolean tellCrcs, int[] crcsOut) {
        SplittableRandom r = new SplittableRandom(seed);
        PageBatch b = new PageBatch();
        b.begin(1 + r.nextInt(3));
        int records = 1 + r.nextInt(StreamFormat.MAX_RECORDS);
        byte[] page = new byte[Pages.SIZE];
        for (int i = 0; i < records; i++) {
            if (r.nextInt(3) == 0) {
                b.addZero(r.nextInt(1 << 20));
                continue;
            }
            int at = b.addNormal(r.nextInt(1 << 20));
            r.nextBytes(page);
            MemorySegment.copy(MemorySegment.ofArray(page), 0, b.segment(), at, Pages.SIZE);
            CRC.reset();
            CRC.update(page);
            crcsOut[i] = (int) CRC.getValue();
            if (tellCrcs) {
                b.pageCrc(crcsOut[i]);
            }
        }
        ByteBuffer f = b.finish();
        byte[] bytes = new byte[f.remaining()];
        f.get(bytes);
        return bytes;
    }

    private static FrameReader reader(byte[] frame) {
        return new FrameReader(Channels.newChannel(new ByteArrayInputStream(frame)), "test frame");
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void combinedChecksumEqualsTheWholeFramesAndTheReaderKeepsThePageCrcs(long seed) throws Exception {
        int[] crcs = new int[StreamFormat.MAX_RECORDS];
        byte[] combined = batch(seed, true, crcs);
        byte[] whole = batch(seed, false, new int[StreamFormat.MAX_RECORDS]);
        assertThat(combined).isEqualTo(whole);

        FrameReader in = reader(combined);
        assertThat(in.next()).isEqualTo(FrameType.PAGES);
        assertThat(in.hasPageCrcs()).isTrue();
        ByteBuffer p = ByteBuffer.wrap(combined, StreamFormat.FRAME_HEADER, combined.length - StreamFormat.FRAME_HEADER);
        int count = p.getInt(StreamFormat.FRAME_HEADER + 4);
        int at = StreamFormat.FRAME_HEADER + StreamFormat.PAGES_HEADER;
        for (int i = 0; i < count; i++) {
            int kind = combined[at + 4];
            at += StreamFormat.RECORD_HEADER;
            if (kind == PageKind.NORMAL.code) {
                assertThat(in.pageCrc(i)).as("record %d", i).isEqualTo(crcs[i]);
                at += Pages.SIZE;
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16, 17, 18})
    void anyFlippedByteFailsTheChecksum(long seed) {
        byte[] frame = batch(seed, true, new int[StreamFormat.MAX_RECORDS]);
        SplittableRandom r = new SplittableRandom(seed);
        for (int trial = 0; trial < 20; trial++) {
            byte[] bad = frame.clone();
            // Past the frame header (damage there is a different error: type, flags or length).
            int at = StreamFormat.FRAME_HEADER + r.nextInt(bad.length - StreamFormat.FRAME_OVERHEAD);
            bad[at] ^= (byte) (1 << r.nextInt(8));
            assertThatThrownBy(() -> reader(bad).next()).as("byte %d", at).isInstanceOf(StreamFormatException.class)
                    .hasMessageContaining("checksum mismatch");
        }
    }

    @org.junit.jupiter.api.Test
    void setupSizeIsExactlyItsPayload() {
        java.util.Map<String, String> props = new java.util.LinkedHashMap<>();
        props.put("memory", "1073741824");
        props.put("workload", "kv,port=6399 éè");
        Records.Setup setup = new Records.Setup(new dev.ferry.guest.GuestDescriptor("in-process", props),
                java.util.List.of(new Records.BlockInfo("ram0", 0, 1L << 30, Pages.SIZE),
                        new Records.BlockInfo("vram-ü", 1L << 32, 8 << 20, Pages.SIZE)));
        FrameBuffer f = new FrameBuffer(setup.size());
        setup.write(f);
        assertThat(f.remaining()).isZero();
    }
}
