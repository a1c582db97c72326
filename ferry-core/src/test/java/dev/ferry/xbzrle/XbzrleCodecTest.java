/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.xbzrle.XbzrleFormatException.Reason;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The codec, once for each way of encoding 4096-byte pages: the Vector API path (the tests' JVM has the module, as
 * the {@code ferry} launcher's does) and the scalar one. They must give the same bytes as each other and as QEMU.
 */
@ParameterizedClass(name = "{0} pages")
@ValueSource(strings = {"vector", "scalar"})
class XbzrleCodecTest {
    private static final int PAGE = 4096;

    @Parameter
    String path;

    private XbzrleCodec codec;

    @BeforeEach
    void codecOnItsPath() {
        if (path.equals("vector")) {
            Assumptions.assumeTrue(XbzrleCodec.VECTOR_PAGES,
                    "the Vector API is not usable in this JVM (module absent or vectors under 256 bits)");
        }
        codec = new XbzrleCodec(path.equals("vector"));
        assertThat(codec.vectorPages()).isEqualTo(path.equals("vector"));
    }

    // ---------------------------------------------------------------------------------------------
    // Page patterns

    private static byte[] oldPage(SplittableRandom r, int n) {
        byte[] p = new byte[n];
        if (r.nextBoolean()) {
            r.nextBytes(p);
        } else {
            byte[] text = "abcdefgh \n\0\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
            for (int i = 0; i < n; i++) {
                p[i] = text[r.nextInt(text.length)];
            }
        }
        return p;
    }

    private static void flip(SplittableRandom r, byte[] p, int i) {
        p[i] ^= (byte) (1 + r.nextInt(255));
    }

    /** A new page from an old one, by one of several patterns chosen by {@code kind}. */
    private static byte[] newPage(SplittableRandom r, byte[] old, int kind) {
        int n = old.length;
        byte[] p = old.clone();
        switch (kind) {
            case 0 -> { } // unchanged
            case 1 -> flip(r, p, 0);
            case 2 -> flip(r, p, n - 1);
            case 3 -> {
                for (int i = 0; i < n; i += 1024) {
                    flip(r, p, i);
                }
            }
            case 4 -> {
                for (int i = 0; i < n; i++) {
                    if (r.nextInt(100) == 0) {
                        flip(r, p, i);
                    }
                }
            }
            case 5 -> {
                for (int i = 0; i < n; i++) {
                    if (r.nextInt(4) == 0) {
                        flip(r, p, i);
                    }
                }
            }
            case 6 -> {
                for (int k = 0; k < 8; k++) {
                    int len = 1 + r.nextInt(300);
                    int s = r.nextInt(n);
                    for (int i = s; i < Math.min(n, s + len); i++) {
                        flip(r, p, i);
                    }
                }
            }
            case 7 -> r.nextBytes(p);
            case 8 -> {
                for (int i = 0; i < n; i++) {
                    flip(r, p, i);
                }
            }
            case 9 -> {
                // long equal and differing stretches: lengths that need two ULEB bytes
                boolean differ = r.nextBoolean();
                for (int i = 0; i < n; ) {
                    int len = 1 + r.nextInt(r.nextBoolean() ? 8 : 400);
                    for (int k = i; k < Math.min(n, i + len); k++) {
                        if (differ) {
                            flip(r, p, k);
                        }
                    }
                    i += len;
                    differ = !differ;
                }
            }
            default -> throw new IllegalArgumentException();
        }
        return p;
    }

    private static final int KINDS = 10;

    private static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }

    /**
     * Encodes with the codec under test: on the vector path from native memory (heap pages take the scalar path
     * whatever the codec), on the scalar one from the arrays themselves.
     */
    private int encode(byte[] old, byte[] cur, byte[] dst, int limit) {
        if (!codec.vectorPages()) {
            return codec.encode(seg(old), 0, seg(cur), 0, old.length, seg(dst), 0, limit);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment o = arena.allocate(old.length);
            MemorySegment c = arena.allocate(cur.length);
            MemorySegment d = arena.allocate(dst.length);
            MemorySegment.copy(old, 0, o, ValueLayout.JAVA_BYTE, 0, old.length);
            MemorySegment.copy(cur, 0, c, ValueLayout.JAVA_BYTE, 0, cur.length);
            MemorySegment.copy(dst, 0, d, ValueLayout.JAVA_BYTE, 0, dst.length);
            int len = codec.encode(o, 0, c, 0, old.length, d, 0, limit);
            MemorySegment.copy(d, ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
            return len;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Encoder

    @Test
    void roundTripsSeededPagesOfEveryPatternAndLength() {
        SplittableRandom r = new SplittableRandom(1);
        int[] lengths = {1, 2, 7, 8, 9, 63, 64, 65, 127, 128, 129, 1000, 4095, PAGE, 8192, XbzrleCodec.MAX_LENGTH};
        for (int n : lengths) {
            for (int kind = 0; kind < KINDS; kind++) {
                for (int rep = 0; rep < 3; rep++) {
                    byte[] old = oldPage(r, n);
                    byte[] cur = newPage(r, old, kind);
                    byte[] dst = new byte[3 * n + 16];
                    int len = encode(old, cur, dst, dst.length);
                    if (Arrays.equals(old, cur)) {
                        assertThat(len).isZero();
                        continue;
                    }
                    assertThat(len).as("length %d kind %d", n, kind).isPositive();
                    byte[] page = old.clone();
                    int extent = XbzrleCodec.decode(seg(dst), 0, len, seg(page), 0, n);
                    assertThat(page).as("length %d kind %d", n, kind).isEqualTo(cur);
                    assertThat(extent).isEqualTo(lastDifference(old, cur) + 1);
                }
            }
        }
    }

    private static int lastDifference(byte[] a, byte[] b) {
        for (int i = a.length - 1; i >= 0; i--) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void matchesQemuSemanticsForRandomPagesAndLimits() {
        SplittableRandom r = new SplittableRandom(2);
        for (int t = 0; t < 3000; t++) {
            // One codec for all: short pages after long ones must not see their scratch state.
            int n = switch (r.nextInt(4)) {
                case 0 -> 1 + r.nextInt(300);
                case 1 -> 64 * (1 + r.nextInt(8));
                default -> PAGE;
            };
            byte[] old = oldPage(r, n);
            byte[] cur = newPage(r, old, r.nextInt(KINDS));
            byte[] expected = new byte[3 * n + 16];
            int natural = NaiveXbzrle.encode(old, cur, n, expected, expected.length);
            int limit = switch (r.nextInt(4)) {
                case 0 -> r.nextInt(n + 8);
                case 1 -> Math.max(0, natural + r.nextInt(7) - 3);
                case 2 -> n;
                default -> r.nextInt(8);
            };
            assertEncodesAsNaive(old, cur, limit, "trial " + t + ", length " + n + ", limit " + limit);
        }
    }

    /**
     * 4096-byte pages take their own path (the Vector API's difference masks; or XOR words, fold, word bitmap, and
     * for dense pages the difference bitmap): from one changed byte to far past the dense threshold, runs that start and end at
     * every byte of a word and cross words, at every kind of limit, against the naive encoder.
     */
    @Test
    void pagePathMatchesQemuSemanticsFromSparseToDense() {
        SplittableRandom r = new SplittableRandom(3);
        for (int t = 0; t < 3000; t++) {
            byte[] old = oldPage(r, PAGE);
            byte[] cur = old.clone();
            int changes = t % 5 == 0 ? 1 + r.nextInt(4) : 1 + r.nextInt(120);
            for (int c = 0; c < changes; c++) {
                int at = r.nextInt(4) == 0 ? 8 * r.nextInt(PAGE / 8) + r.nextInt(2) * 7 : r.nextInt(PAGE);
                int len = r.nextInt(3) == 0 ? 1 : 1 + r.nextInt(r.nextBoolean() ? 9 : 40);
                for (int i = at; i < Math.min(PAGE, at + len); i++) {
                    flip(r, cur, i);
                }
            }
            if (r.nextInt(8) == 0) {
                flip(r, cur, PAGE - 1);
            }
            byte[] natural = new byte[3 * PAGE];
            int full = NaiveXbzrle.encode(old, cur, PAGE, natural, natural.length);
            int limit = switch (r.nextInt(4)) {
                case 0 -> PAGE;
                case 1 -> Math.max(0, full + r.nextInt(7) - 3);
                case 2 -> r.nextInt(PAGE + 1);
                default -> 2 * PAGE;
            };
            assertEncodesAsNaive(old, cur, limit, "trial " + t + ", " + changes + " changes, limit " + limit);
        }
    }

    /** Encodes at {@code limit} and checks the result and bytes against the naive encoder, and the round trip. */
    private void assertEncodesAsNaive(byte[] old, byte[] cur, int limit, String what) {
        byte[] want = new byte[limit];
        int wantLen = NaiveXbzrle.encode(old, cur, old.length, want, limit);
        byte[] got = new byte[limit];
        int gotLen = encode(old, cur, got, limit);
        assertThat(gotLen).as(what).isEqualTo(wantLen);
        if (wantLen > 0) {
            assertThat(Arrays.copyOf(got, gotLen)).as(what).isEqualTo(Arrays.copyOf(want, wantLen));
            byte[] page = old.clone();
            XbzrleCodec.decode(seg(got), 0, gotLen, seg(page), 0, old.length);
            assertThat(page).as(what).isEqualTo(cur);
        }
    }

    @Test
    void matchesRecordedCReferenceVectors() throws IOException {
        int pairs = 0;
        int limits = 0;
        try (InputStream in = XbzrleCodecTest.class.getResourceAsStream("/xbzrle/ref-vectors.bin");
             DataInputStream data = new DataInputStream(in)) {
            byte[] magic = data.readNBytes(4);
            assertThat(new String(magic, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("XBZV");
            int count = data.readInt();
            for (int v = 0; v < count; v++) {
                int n = data.readInt();
                byte[] old = data.readNBytes(n);
                byte[] cur = data.readNBytes(n);
                int k = data.readInt();
                for (int j = 0; j < k; j++) {
                    int limit = data.readInt();
                    int result = data.readInt();
                    byte[] want = result > 0 ? data.readNBytes(result) : new byte[0];
                    byte[] got = new byte[limit];
                    int len = encode(old, cur, got, limit);
                    assertThat(len).as("pair %d (length %d), limit %d", v, n, limit).isEqualTo(result);
                    if (result > 0) {
                        assertThat(Arrays.copyOf(got, len)).isEqualTo(want);
                        byte[] page = old.clone();
                        XbzrleCodec.decode(seg(want), 0, want.length, seg(page), 0, n);
                        assertThat(page).isEqualTo(cur);
                    }
                    limits++;
                }
                pairs++;
            }
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(pairs).isGreaterThan(60);
        assertThat(limits).isGreaterThan(500);
    }

    @Test
    void aShortPageAfterALongOneSeesNothingOfIt() {
        SplittableRandom r = new SplittableRandom(7);
        byte[] bigOld = oldPage(r, PAGE);
        byte[] bigCur = newPage(r, bigOld, 8); // every byte differs
        assertThat(encode(bigOld, bigCur, new byte[PAGE], PAGE)).isEqualTo(XbzrleCodec.OVERFLOW);
        byte[] old = new byte[64];
        byte[] cur = old.clone();
        cur[63] = 1; // a run that ends exactly at the end of the last block
        byte[] dst = new byte[3];
        assertThat(encode(old, cur, dst, 3)).isEqualTo(3);
        assertThat(dst).containsExactly(63, 1, 1);
    }

    @Test
    void unchangedPageEncodesToZero() {
        byte[] old = new byte[PAGE];
        new SplittableRandom(3).nextBytes(old);
        assertThat(encode(old, old.clone(), new byte[PAGE], PAGE)).isEqualTo(XbzrleCodec.UNCHANGED);
    }

    @Test
    void emptyPageEncodesToZeroWhateverTheLimit() {
        assertThat(encode(new byte[0], new byte[0], new byte[0], 0)).isZero();
    }

    @Test
    void unchangedPageWithLessThanTwoBytesOfRoomIsOverflowAsInQemu() {
        byte[] old = new byte[PAGE];
        assertThat(encode(old, old.clone(), new byte[1], 1)).isEqualTo(XbzrleCodec.OVERFLOW);
        assertThat(encode(old, old.clone(), new byte[0], 0)).isEqualTo(XbzrleCodec.OVERFLOW);
        assertThat(encode(old, old.clone(), new byte[2], 2)).isEqualTo(XbzrleCodec.UNCHANGED);
    }

    @Test
    void overflowIsDecidedExactlyAtTheLimit() {
        // First byte changed: the delta is {0, 1, b} (3 bytes), but QEMU asks for two free bytes
        // before the trailing zero run, so it needs a limit of 5.
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        cur[0] = 7;
        assertThat(encode(old, cur, new byte[3], 3)).isEqualTo(XbzrleCodec.OVERFLOW);
        assertThat(encode(old, cur, new byte[4], 4)).isEqualTo(XbzrleCodec.OVERFLOW);
        byte[] dst = new byte[5];
        assertThat(encode(old, cur, dst, 5)).isEqualTo(3);
        assertThat(Arrays.copyOf(dst, 3)).containsExactly(0, 1, 7);

        // Last byte changed: no zero run follows, so the exact length is enough.
        byte[] last = old.clone();
        last[PAGE - 1] = 9;
        byte[] d2 = new byte[4];
        assertThat(encode(old, last, d2, 4)).isEqualTo(4);
        assertThat(d2).containsExactly(0xff, 0x1f, 1, 9); // 4095 = 0x7f | 0x1f << 7
        assertThat(encode(old, last, new byte[3], 3)).isEqualTo(XbzrleCodec.OVERFLOW);

        // A run whose data just fits, and one byte less.
        byte[] run = old.clone();
        for (int i = 10; i < 20; i++) {
            run[i] = 1;
        }
        run[PAGE - 1] = 1; // no trailing zero run: the second pair ends the page
        // {10, 10, 1 x 10, 4075 (2 bytes), 1, 1} = 1 + 1 + 10 + 2 + 1 + 1 = 16
        assertThat(encode(old, run, new byte[16], 16)).isEqualTo(16);
        assertThat(encode(old, run, new byte[15], 15)).isEqualTo(XbzrleCodec.OVERFLOW);
    }

    @Test
    void workedExampleOfTheFormatDoc() {
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        cur[0] = 0x41;
        cur[1] = 0x42;
        cur[2] = 0x43;
        cur[4] = 0x44;
        cur[300] = (byte) 0xaa;
        cur[301] = (byte) 0xbb;
        assertThat(encode(old, cur, new byte[14], 14)).isEqualTo(XbzrleCodec.OVERFLOW);
        byte[] dst = new byte[15];
        assertThat(encode(old, cur, dst, 15)).isEqualTo(13);
        assertThat(Arrays.copyOf(dst, 13)).containsExactly(
                0x00, 0x03, 0x41, 0x42, 0x43, 0x01, 0x01, 0x44, 0xa7, 0x02, 0x02, 0xaa, 0xbb);
    }

    @Test
    void twoByteLengthsAreUleb128() {
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        for (int i = 200; i < 200 + 300; i++) {
            cur[i] = (byte) 0xaa;
        }
        byte[] dst = new byte[PAGE];
        int len = encode(old, cur, dst, PAGE);
        assertThat(len).isEqualTo(2 + 2 + 300);
        assertThat(Arrays.copyOf(dst, 4)).containsExactly(0xc8, 0x01, 0xac, 0x02); // 200, 300
    }

    @Test
    void writesNothingOutsideItsRangeAndReadsAtOffsets() {
        SplittableRandom r = new SplittableRandom(4);
        try (Arena arena = Arena.ofConfined()) {
            for (int t = 0; t < 200; t++) {
                int n = r.nextBoolean() ? PAGE : 1 + r.nextInt(500);
                byte[] old = oldPage(r, n);
                byte[] cur = newPage(r, old, 1 + r.nextInt(KINDS - 1));
                long oo = r.nextInt(64);
                long co = r.nextInt(64);
                long dOff = r.nextInt(64);
                int limit = r.nextInt(n + 16);
                MemorySegment o = arena.allocate(oo + n);
                MemorySegment c = arena.allocate(co + n);
                MemorySegment d = arena.allocate(dOff + limit + 64);
                MemorySegment.copy(old, 0, o, ValueLayout.JAVA_BYTE, oo, n);
                MemorySegment.copy(cur, 0, c, ValueLayout.JAVA_BYTE, co, n);
                d.fill((byte) 0x5a);
                int len = codec.encode(o, oo, c, co, n, d, dOff, limit);
                byte[] want = new byte[limit];
                assertThat(len).isEqualTo(NaiveXbzrle.encode(old, cur, n, want, limit));
                for (long k = 0; k < dOff; k++) {
                    assertThat(d.get(ValueLayout.JAVA_BYTE, k)).isEqualTo((byte) 0x5a);
                }
                for (long k = dOff + limit; k < d.byteSize(); k++) {
                    assertThat(d.get(ValueLayout.JAVA_BYTE, k)).as("byte past the limit").isEqualTo((byte) 0x5a);
                }
                if (len > 0) {
                    byte[] got = new byte[len];
                    MemorySegment.copy(d, ValueLayout.JAVA_BYTE, dOff, got, 0, len);
                    assertThat(got).isEqualTo(Arrays.copyOf(want, len));
                }
            }
        }
    }

    @Test
    void rejectsBadArguments() {
        MemorySegment page = seg(new byte[PAGE]);
        assertThatThrownBy(() -> codec.encode(page, 0, page, 0, XbzrleCodec.MAX_LENGTH + 1, page, 0, 10))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> codec.encode(page, 1, page, 0, PAGE, page, 0, 10))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> codec.encode(page, 0, page, 0, PAGE, page, 0, PAGE + 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> codec.encode(page, 0, page, 0, PAGE, page, 0, -1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XbzrleCodec.decode(page, 0, PAGE + 1, page, 0, PAGE))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    // ---------------------------------------------------------------------------------------------
    // Decoder: what QEMU rejects, one case each

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    /** Decodes {@code delta} in heap memory and in native memory: both must refuse it, for the same reason. */
    private XbzrleFormatException rejected(byte[] delta, int pageLength) {
        byte[] page = new byte[pageLength];
        assertThat(NaiveXbzrle.decode(delta, delta.length, page.clone(), pageLength)).as("QEMU rejects it").isEqualTo(-1);
        XbzrleFormatException caught = null;
        try {
            XbzrleCodec.decode(seg(delta), 0, delta.length, seg(page), 0, pageLength);
        } catch (XbzrleFormatException e) {
            caught = e;
        }
        assertThat(caught).as("accepted " + Arrays.toString(delta)).isNotNull();
        XbzrleFormatException heap = caught;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment d = arena.allocate(delta.length);
            MemorySegment.copy(delta, 0, d, ValueLayout.JAVA_BYTE, 0, delta.length);
            assertThatThrownBy(() -> XbzrleCodec.decode(d, 0, delta.length, arena.allocate(pageLength), 0, pageLength))
                    .as("in native memory").isInstanceOfSatisfying(XbzrleFormatException.class, e -> {
                        assertThat(e.reason()).isEqualTo(heap.reason());
                        assertThat(e.deltaOffset()).isEqualTo(heap.deltaOffset());
                    });
        }
        return heap;
    }

    @Test
    void rejectsALengthWithFewerThanTwoBytesLeft() {
        XbzrleFormatException e = rejected(bytes(5), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.TRUNCATED_LENGTH);
        assertThat(e.deltaOffset()).isZero();
        assertThat(e).hasMessageContaining("delta offset 0");
    }

    @Test
    void rejectsANonZeroRunLengthWithFewerThanTwoBytesLeft() {
        XbzrleFormatException e = rejected(bytes(0, 1, 9, 3, 1), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.TRUNCATED_LENGTH);
        assertThat(e.deltaOffset()).isEqualTo(4);
    }

    @Test
    void rejectsALengthLongerThanTwoUlebBytes() {
        XbzrleFormatException e = rejected(bytes(0x80, 0x80, 0x01, 1, 1), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.LENGTH_TOO_LONG);
        assertThat(e.deltaOffset()).isZero();
        XbzrleFormatException n = rejected(bytes(0, 0xff, 0xff, 0x01, 1, 2, 3), PAGE);
        assertThat(n.reason()).isEqualTo(Reason.LENGTH_TOO_LONG);
        assertThat(n.deltaOffset()).isEqualTo(1);
    }

    @Test
    void rejectsAnEmptyZeroRunAfterTheFirst() {
        XbzrleFormatException e = rejected(bytes(0, 1, 9, 0, 1, 9), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.EMPTY_ZERO_RUN);
        assertThat(e.deltaOffset()).isEqualTo(3);
    }

    @Test
    void rejectsAnEmptyNonZeroRun() {
        XbzrleFormatException e = rejected(bytes(4, 0, 0, 0), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.EMPTY_NONZERO_RUN);
        assertThat(e.deltaOffset()).isEqualTo(1);
    }

    @Test
    void rejectsAZeroRunPastTheEndOfThePage() {
        XbzrleFormatException e = rejected(bytes(0x81, 0x20, 1, 9), PAGE); // 4097
        assertThat(e.reason()).isEqualTo(Reason.RUN_PAST_PAGE_END);
        assertThat(e.deltaOffset()).isZero();
    }

    @Test
    void rejectsANonZeroRunPastTheEndOfThePage() {
        XbzrleFormatException e = rejected(bytes(0xfe, 0x1f, 3, 1, 2, 3), PAGE); // 4094 + 3
        assertThat(e.reason()).isEqualTo(Reason.RUN_PAST_PAGE_END);
        assertThat(e.deltaOffset()).isEqualTo(2);
    }

    @Test
    void rejectsNonZeroRunDataPastTheEndOfTheDelta() {
        XbzrleFormatException e = rejected(bytes(0, 5, 1, 2, 3), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.TRUNCATED_DATA);
        assertThat(e.deltaOffset()).isEqualTo(1);
    }

    @Test
    void rejectsInTheTailOfTheDeltaSegmentToo() {
        // The delta ends exactly at the end of its segment, so the decoder reads byte by byte.
        XbzrleFormatException e = rejected(bytes(0, 1, 9, 0, 1), PAGE);
        assertThat(e.reason()).isEqualTo(Reason.EMPTY_ZERO_RUN);
        assertThat(rejected(bytes(0, 3, 1, 2), PAGE).reason()).isEqualTo(Reason.TRUNCATED_DATA);
        assertThat(rejected(bytes(0, 0x80, 0x80), PAGE).reason()).isEqualTo(Reason.LENGTH_TOO_LONG);
    }

    @Test
    void acceptsWhatQemuAccepts() {
        byte[] page = new byte[PAGE];
        // An empty first zero run, a non-minimal ULEB128 zero, and an empty delta.
        assertThat(XbzrleCodec.decode(seg(bytes(0x80, 0x00, 1, 7)), 0, 4, seg(page), 0, PAGE)).isEqualTo(1);
        assertThat(page[0]).isEqualTo((byte) 7);
        assertThat(XbzrleCodec.decode(seg(new byte[0]), 0, 0, seg(page), 0, PAGE)).isZero();
        // A run that ends exactly at the end of the page.
        assertThat(XbzrleCodec.decode(seg(bytes(0xff, 0x1f, 1, 5)), 0, 4, seg(page), 0, PAGE)).isEqualTo(PAGE);
        assertThat(page[PAGE - 1]).isEqualTo((byte) 5);
    }

    @Test
    void decoderAgreesWithQemuOnMutatedDeltas() {
        SplittableRandom r = new SplittableRandom(5);
        int rejectedCount = 0;
        for (int t = 0; t < 20000; t++) {
            int n = r.nextInt(3) == 0 ? 1 + r.nextInt(200) : PAGE;
            byte[] old = oldPage(r, n);
            byte[] cur = newPage(r, old, 1 + r.nextInt(KINDS - 1));
            byte[] enc = new byte[3 * n + 16];
            int len = NaiveXbzrle.encode(old, cur, n, enc, enc.length);
            if (len <= 0) {
                continue;
            }
            byte[] delta = Arrays.copyOf(enc, len);
            int mutations = r.nextInt(3);
            for (int m = 0; m < mutations && delta.length > 0; m++) {
                switch (r.nextInt(4)) {
                    case 0 -> delta[r.nextInt(delta.length)] = (byte) r.nextInt(256);
                    case 1 -> delta = Arrays.copyOf(delta, r.nextInt(delta.length + 1));
                    case 2 -> delta = Arrays.copyOf(delta, delta.length + 1 + r.nextInt(3));
                    default -> delta[r.nextInt(delta.length)] = (byte) (r.nextBoolean() ? 0 : 0x80);
                }
            }
            int pageLength = r.nextInt(5) == 0 ? r.nextInt(n + 1) : n;
            byte[] want = Arrays.copyOf(old, n);
            int wantExtent = NaiveXbzrle.decode(delta, delta.length, want, pageLength);
            // The delta sits at an offset, in a segment with slack after it (as in a stream buffer).
            byte[] buf = new byte[delta.length + 3 + r.nextInt(16)];
            System.arraycopy(delta, 0, buf, 3, delta.length);
            byte[] got = Arrays.copyOf(old, n);
            int gotExtent;
            try {
                gotExtent = XbzrleCodec.decode(seg(buf), 3, delta.length, seg(got), 0, pageLength);
            } catch (XbzrleFormatException e) {
                gotExtent = -1;
                rejectedCount++;
            }
            assertThat(gotExtent).as("trial %d: %s", t, Arrays.toString(delta)).isEqualTo(wantExtent);
            if (wantExtent >= 0) {
                assertThat(got).isEqualTo(want);
            }
            assertThat(decodeInNativeMemory(buf, 3, delta.length, old, n, pageLength, want))
                    .as("native, trial %d: %s", t, Arrays.toString(delta)).isEqualTo(wantExtent);
        }
        assertThat(rejectedCount).isGreaterThan(1000);
    }

    /**
     * Decodes {@code buf[off, off + len)} onto a copy of {@code old} with both in native memory (where the decoder
     * works by address); returns the extent, or -1 if it was rejected, after checking the page against
     * {@code want} when it was not.
     */
    private static int decodeInNativeMemory(byte[] buf, int off, int len, byte[] old, int n, int pageLength,
                                            byte[] want) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment delta = arena.allocate(buf.length);
            MemorySegment.copy(buf, 0, delta, ValueLayout.JAVA_BYTE, 0, buf.length);
            MemorySegment page = arena.allocate(n);
            MemorySegment.copy(old, 0, page, ValueLayout.JAVA_BYTE, 0, n);
            int extent;
            try {
                extent = XbzrleCodec.decode(delta, off, len, page, 0, pageLength);
            } catch (XbzrleFormatException e) {
                return -1;
            }
            assertThat(page.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(want);
            return extent;
        }
    }

    @Test
    void aReadOnlyPageInNativeMemoryIsRefusedNotWritten() {
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        Arrays.fill(cur, 100, 125, (byte) 7); // one run of 25 bytes: past the inlined loop, to the by-address one
        byte[] enc = new byte[PAGE];
        int len = NaiveXbzrle.encode(old, cur, PAGE, enc, PAGE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment delta = arena.allocate(len);
            MemorySegment.copy(enc, 0, delta, ValueLayout.JAVA_BYTE, 0, len);
            MemorySegment page = arena.allocate(PAGE);
            assertThatThrownBy(() -> XbzrleCodec.decode(delta, 0, len, page.asReadOnly(), 0, PAGE))
                    .isInstanceOf(RuntimeException.class).isNotInstanceOf(XbzrleFormatException.class);
            assertThat(page.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(old);
        }
    }

    @Test
    void decodeTouchesOnlyTheRunsInNativeMemory() {
        SplittableRandom r = new SplittableRandom(6);
        try (Arena arena = Arena.ofConfined()) {
            for (int t = 0; t < 300; t++) {
                int n = r.nextBoolean() ? PAGE : 1 + r.nextInt(300);
                byte[] old = oldPage(r, n);
                byte[] cur = newPage(r, old, 1 + r.nextInt(KINDS - 1));
                byte[] enc = new byte[3 * n + 16];
                int len = NaiveXbzrle.encode(old, cur, n, enc, enc.length);
                if (len <= 0) {
                    continue;
                }
                MemorySegment delta = arena.allocate(len);
                MemorySegment.copy(enc, 0, delta, ValueLayout.JAVA_BYTE, 0, len);
                // The page inside a larger segment whose bytes around it must stay as they are.
                MemorySegment mem = arena.allocate(n + 32);
                mem.fill((byte) 0x33);
                MemorySegment.copy(old, 0, mem, ValueLayout.JAVA_BYTE, 16, n);
                XbzrleCodec.decode(delta, 0, len, mem, 16, n);
                byte[] page = new byte[n];
                MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, 16, page, 0, n);
                assertThat(page).isEqualTo(cur);
                for (long k : new long[] {0, 15, 16 + n, n + 31}) {
                    assertThat(mem.get(ValueLayout.JAVA_BYTE, k)).isEqualTo((byte) 0x33);
                }
            }
        }
    }

    /**
     * Every run length from 1 to 40 bytes, as the first run (decoded by {@code decode} itself when it is short),
     * after another (decoded by address), at the start of the page, in its middle and ending on its last byte; the
     * delta in a segment of exactly its length (its last run read byte by byte) and with slack after it; the page
     * between guard bytes in native memory and in heap memory. Each run's bytes, and only they, must change.
     */
    @Test
    void everyRunLengthAtEveryEdgeIsDecodedExactly() {
        SplittableRandom r = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int n = 1; n <= 40; n++) {
                for (int at : new int[] {0, 1, 130, PAGE / 2, PAGE - n}) {
                    for (boolean second : new boolean[] {false, true}) {
                        byte[] old = oldPage(r, PAGE);
                        byte[] cur = old.clone();
                        if (second) {
                            cur[at == 0 ? PAGE - 1 : 0] ^= 0x5a; // another run, before or after this one
                        }
                        for (int k = at; k < at + n; k++) {
                            cur[k] = (byte) ~old[k];
                        }
                        byte[] enc = new byte[PAGE + 16];
                        int len = NaiveXbzrle.encode(old, cur, PAGE, enc, enc.length);
                        String what = "run of " + n + " at " + at + (second ? " with another" : "");
                        for (int slack : new int[] {0, 9}) {
                            MemorySegment delta = arena.allocate(len + slack);
                            MemorySegment.copy(enc, 0, delta, ValueLayout.JAVA_BYTE, 0, len);
                            MemorySegment mem = arena.allocate(PAGE + 64);
                            mem.fill((byte) 0x33);
                            MemorySegment.copy(old, 0, mem, ValueLayout.JAVA_BYTE, 32, PAGE);
                            XbzrleCodec.decode(delta, 0, len, mem, 32, PAGE);
                            assertThat(mem.asSlice(32, PAGE).toArray(ValueLayout.JAVA_BYTE)).as(what).isEqualTo(cur);
                            assertThat(mem.asSlice(0, 32).toArray(ValueLayout.JAVA_BYTE)).as(what)
                                    .containsOnly((byte) 0x33);
                            assertThat(mem.asSlice(32 + PAGE, 32).toArray(ValueLayout.JAVA_BYTE)).as(what)
                                    .containsOnly((byte) 0x33);
                        }
                        byte[] heap = new byte[PAGE + 64];
                        Arrays.fill(heap, (byte) 0x33);
                        System.arraycopy(old, 0, heap, 32, PAGE);
                        XbzrleCodec.decode(seg(Arrays.copyOf(enc, len)), 0, len, seg(heap), 32, PAGE);
                        assertThat(Arrays.copyOfRange(heap, 32, 32 + PAGE)).as(what + ", heap").isEqualTo(cur);
                        assertThat(Arrays.copyOfRange(heap, 0, 32)).as(what + ", heap").containsOnly((byte) 0x33);
                        assertThat(Arrays.copyOfRange(heap, 32 + PAGE, 64 + PAGE)).as(what + ", heap")
                                .containsOnly((byte) 0x33);
                    }
                }
            }
        }
    }
}
