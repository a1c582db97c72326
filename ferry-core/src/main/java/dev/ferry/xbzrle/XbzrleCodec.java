/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The XBZRLE page-delta codec, byte for byte compatible with QEMU's {@code xbzrle_encode_buffer}
 * and {@code xbzrle_decode_buffer} (migration/xbzrle.c).
 *
 * <h2>Format</h2>
 * A delta is a sequence of {@code {zero-run length, non-zero-run length, non-zero-run bytes}},
 * where each length is an unsigned LEB128 number of at most 14 bits (one or two bytes), a zero run
 * is a maximal run of bytes equal in the old and the new page, and a non-zero run is a maximal run
 * of bytes that differ, whose new bytes follow its length. The trailing zero run is never written.
 * An unchanged page encodes to nothing (length 0). See {@code docs/formats/xbzrle.md}.
 *
 * <h2>Overflow</h2>
 * {@link #encode} decides overflow exactly as QEMU does: before each zero run and before each
 * non-zero-run length it requires two free bytes ({@code d + 2 <= dstLimit}), and before the
 * non-zero-run bytes it requires room for all of them. So for every input, including a
 * {@code dstLimit} just at the encoded length, the result (-1, 0 or the length) and the bytes are
 * those of the C reference. Note the consequence that an unchanged page with {@code dstLimit < 2}
 * is reported as overflow (-1), as in QEMU.
 *
 * <h2>Use and threads</h2>
 * {@link #encode} is an instance method: a codec owns about 7 KiB of scratch (the difference
 * masks, or the XOR words and difference bitmap, of the page being encoded), so use one codec per
 * thread. {@link #decode} is static and thread-safe. Neither allocates. The segments may be heap or
 * native, confined or shared (the fastest paths are those of native memory); the output must not overlap the
 * input.
 *
 * <h2>How the encoder is fast</h2>
 * A 4096-byte page (the page size of Ferry's guests, and of QEMU's on x86) in native memory goes, when the JDK's
 * Vector API is available ({@link #VECTOR_PAGES}), to {@link VectorPageEncoder}: one pass of 64-byte
 * vector compares gives a mask of the differing bytes per 64 bytes, and the runs are read off the
 * masks. Without it (or for other lengths) only plain counted loops are vectorised by the JIT, and
 * they have no vector "movemask", so the encoder reads the pages once with such a loop and finds the
 * differences from what it wrote:
 * <ul>
 * <li>A 4096-byte page on the scalar path: (1) the XOR of the pages, word by word, into scratch, also telling an
 * unchanged page; (2) the fold of those 512 words into 64 (the OR of words k, k + 64, ...), so that
 * each zero fold word rules out eight words; (3) from the non-zero fold words, a bitmap of the
 * words that differ; (4) the runs a word at a time: the differing bytes of a word are its non-zero
 * XOR bytes, found with {@link Long#numberOfTrailingZeros} and the zero-byte mask
 * {@code ~((x & 0x7f..) + 0x7f.. | x) & 0x80..}. A page with a few changes so costs about one read.
 * A dense page (more than {@value #DENSE_FOLDS} non-zero fold words) goes instead to the difference
 * bitmap below, built from the XOR words, after a lower bound of its delta that finds a page
 * rewritten whole to overflow before any run is copied.</li>
 * <li>Other lengths: (1) is anything different? (an OR of the XORs); (2) the difference bitmap, one
 * bit per byte, from per-byte non-zero masks of the XOR words ({@code ((x & 0x7f..) + 0x7f..) | x})
 * and a multiply that gathers their top bits; (3) the runs, read off the bitmap 64 bytes at a time
 * with {@link Long#numberOfTrailingZeros}, so that a run boundary costs a few register operations
 * and no load. Once a quarter of the room is used, a lower bound of what the rest needs (two bytes
 * per run plus its bytes, from the bitmap) detects a certain overflow early, which QEMU only finds
 * at the end; the result is the same.</li>
 * </ul>
 * Short runs and their lengths are written with one 8-byte store, long runs are copied with
 * overlapping 8-byte moves or {@link MemorySegment#copy}.
 *
 * <h2>How the decoder is fast</h2>
 * A delta's first run, when its lengths take a byte each and its bytes (at most six) come in the same
 * 8-byte read, is decoded in {@link #decode} itself, which the JIT inlines into the caller: a page with
 * one small change costs no call. The rest, in native memory, goes to a loop that works by address (see
 * {@link #decodeFrom}), reads the usual shapes of lengths by a predicted branch each, checks each run
 * with one test and moves its bytes exactly. Run bytes are written as they are, not by a
 * read-modify-write of the 8 bytes around them as the decoder before this one did; that decoder decoded
 * pages of one or four one-byte changes (memtest, sparse-word) at 0.65-0.94x the C reference, this one at
 * 1.4-1.9x (2048 page pairs, docs/benchmarks.md). Whatever that loop's test refuses, and the runs after the
 * first in heap memory, go to the decoder that checks every length in QEMU's order before using it, and
 * names what is wrong. No decoder writes a byte of the page outside the runs.
 */
public final class XbzrleCodec {

    /** Largest page length the format can describe: every run length must fit in 14 bits. */
    public static final int MAX_LENGTH = (1 << 14) - 1;

    /** Encoding result for an unchanged page: nothing to send. */
    public static final int UNCHANGED = 0;

    /** Encoding result when the delta would not fit in {@code dstLimit} bytes. */
    public static final int OVERFLOW = -1;

    private static final ValueLayout.OfLong LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final long LOW7 = 0x7f7f7f7f7f7f7f7fL;
    private static final long HIGH = 0x8080808080808080L;

    /**
     * All of memory as one segment, through which {@link #decodeFrom} and the vector page encoder's runs read and
     * write native segments by address; null when this module may not use restricted methods (then runs that the
     * inlined loop of {@link #decode} does not take go to {@link #decodeChecked}, and pages to the scalar encoder).
     */
    static final MemorySegment ADDRESSES = XbzrleCodec.class.getModule().isNativeAccessEnabled()
            ? MemorySegment.NULL.reinterpret(Long.MAX_VALUE) : null;

    private static final VarHandle BITMAP =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** The page length with a path of its own: Ferry's (and QEMU's on x86) page size. */
    private static final int PAGE = 4096;
    private static final int PAGE_WORDS = PAGE >>> 3;
    /** Words of the fold: fold word k is the OR of the XOR words k, k + 64, ..., k + 448. */
    private static final int FOLD = 64;
    /**
     * Past this many non-zero fold words a page is dense: its differing words are found faster by
     * the difference bitmap than one at a time. Chosen from interleaved runs at 16, 40 and 64 on the
     * cached corpora: 64 made whole rewritten pages slower, 16 the pages with eight short runs.
     */
    private static final int DENSE_FOLDS = 40;

    /** Scratch for a 4096-byte page: the XOR of the two pages, word by word. */
    private final long[] xor = new long[PAGE_WORDS];
    /** Scratch: the fold of {@link #xor}. */
    private final long[] fold = new long[FOLD];
    /** Scratch: bit k of word q set iff XOR word 64q + k is not zero. */
    private final long[] wordBits = new long[PAGE_WORDS >>> 6];

    /**
     * Encodes a 4096-byte page (arguments checked). One pass over memory, the XOR of the pages into
     * scratch; then the differing words are found from the fold, so that a page with a few changes
     * costs little more than reading it; a dense page goes to the difference bitmap.
     */
    private int encodePage(MemorySegment old, long oo, MemorySegment cur, long co, MemorySegment dst, long dOff,
                           int dstLimit) {
        final long[] xs = xor;
        if (xorWords(old, oo, cur, co, xs) == 0) {
            return UNCHANGED;
        }
        final long[] f = fold;
        foldWords(xs, f); // another element-wise loop: eight words ruled out per zero fold word
        long fm = 0; // bit k set iff fold word k is not zero
        for (int k = 0; k < FOLD; k++) {
            fm |= nonZero(f[k]) << k;
        }
        if (Long.bitCount(fm) > DENSE_FOLDS) {
            return encodeDensePage(cur, co, dst, dOff, dstLimit);
        }
        // The word bitmap, from the eight candidates of each non-zero fold word, its eight words kept
        // in registers while it is built. Branch-free but for the loop over fm's bits: whether a fold
        // word, or a candidate, is zero is not predictable (half of them are on 1% scattered changes).
        long w0 = 0;
        long w1 = 0;
        long w2 = 0;
        long w3 = 0;
        long w4 = 0;
        long w5 = 0;
        long w6 = 0;
        long w7 = 0;
        for (long m = fm; m != 0; m &= m - 1) {
            int k = Long.numberOfTrailingZeros(m);
            w0 |= nonZero(xs[k]) << k;
            w1 |= nonZero(xs[k + 64]) << k;
            w2 |= nonZero(xs[k + 128]) << k;
            w3 |= nonZero(xs[k + 192]) << k;
            w4 |= nonZero(xs[k + 256]) << k;
            w5 |= nonZero(xs[k + 320]) << k;
            w6 |= nonZero(xs[k + 384]) << k;
            w7 |= nonZero(xs[k + 448]) << k;
        }
        final long[] wb = wordBits;
        wb[0] = w0;
        wb[1] = w1;
        wb[2] = w2;
        wb[3] = w3;
        wb[4] = w4;
        wb[5] = w5;
        wb[6] = w6;
        wb[7] = w7;
        // The runs, a word at a time: the bytes of a word that differ are its non-zero bytes.
        int d = 0;
        int i = 0;
        for (;;) {
            // The zero run from i: its end z is the first differing byte at or after i.
            int w = i >>> 3;
            long x = xs[w] & (-1L << ((i & 7) << 3));
            if (x == 0) {
                w = nextWord(wb, w + 1);
                if (w == PAGE_WORDS) {
                    return d; // the trailing zero run is not written
                }
                x = xs[w];
            }
            int z = (w << 3) + (Long.numberOfTrailingZeros(x) >>> 3);
            // The non-zero run from z: its end e is the first equal byte after z, or the end of the
            // page: the first zero byte of x after z (bytes up to z are masked off), else of the words after.
            long eq = ~nonZeroBytes(x) & HIGH & (-1L << (((z & 7) << 3) + 7));
            while (eq == 0) {
                if (++w == PAGE_WORDS) {
                    break;
                }
                long y = xs[w];
                eq = ~nonZeroBytes(y) & HIGH;
            }
            int e = w == PAGE_WORDS ? PAGE : (w << 3) + (Long.numberOfTrailingZeros(eq) >>> 3);
            d = put(cur, co, PAGE, dst, dOff, dstLimit, d, z - i, z, e - z);
            if (d < 0) {
                return OVERFLOW;
            }
            if (e >= PAGE) {
                return d;
            }
            if (d + 2 > dstLimit) {
                return OVERFLOW; // QEMU's check before each zero run
            }
            i = e;
        }
    }

    /** Bit 7 of each non-zero byte of {@code x}, the other bits clear (no carry crosses a byte). */
    private static long nonZeroBytes(long x) {
        return (((x & LOW7) + LOW7) | x) & HIGH;
    }

    /** 1 if {@code x} is not zero, else 0. */
    private static long nonZero(long x) {
        return (x | -x) >>> 63;
    }

    /** The first word at or after w whose bit is set in wb, or PAGE_WORDS. */
    private static int nextWord(long[] wb, int w) {
        if (w >= PAGE_WORDS) {
            return PAGE_WORDS;
        }
        int q = w >>> 6;
        long m = wb[q] & (-1L << w);
        while (m == 0) {
            if (++q == wb.length) {
                return PAGE_WORDS;
            }
            m = wb[q];
        }
        return (q << 6) + Long.numberOfTrailingZeros(m);
    }

    /**
     * A dense 4096-byte page, from its XOR words: a lower bound of the delta (a page rewritten whole
     * is found to overflow before any run is looked for), then the difference bitmap and the runs.
     */
    private int encodeDensePage(MemorySegment cur, long co, MemorySegment dst, long dOff, int dstLimit) {
        final long[] xs = xor;
        // Found from the XOR words by a vectorised pass, before the bitmap (whose per-word multiply
        // does not vectorise) is built: pages rewritten whole were encoded 1.3-1.5x faster (A/B, 2026-12-01).
        if (pageLowerBound(xs) > dstLimit) {
            return OVERFLOW;
        }
        final byte[] bm = bitmap;
        for (int w = 0; w < PAGE_WORDS; w++) {
            bm[w] = (byte) gather(xs[w]);
        }
        int blocks = PAGE >>> 6;
        return runs(cur, co, PAGE, dst, dOff, dstLimit, bm, blocks, Integer.MAX_VALUE);
    }

    /**
     * A lower bound of a 4096-byte page's delta from its XOR words, as {@link #restLowerBound}: its
     * differing bytes plus two bytes of lengths per run, but counting only the runs that do not start
     * at a word's first byte, so that each word is looked at alone. Element-wise loops the JIT
     * vectorises, adding in byte lanes (at most 3 a word, 64 words at a time).
     */
    private static int pageLowerBound(long[] xs) {
        int total = 0;
        for (int c = 0; c < PAGE_WORDS; c += 64) {
            long acc = 0;
            for (int w = c; w < c + 64; w++) {
                long x = xs[w];
                long m = nonZeroBytes(x);
                acc += (m >>> 7) + ((m & ~(m << 8) & ~0x80L) >>> 6); // 1 per differing byte, 2 per run start
            }
            long pairs = (acc & 0x00ff00ff00ff00ffL) + ((acc >>> 8) & 0x00ff00ff00ff00ffL);
            total += (int) ((pairs * 0x0001000100010001L) >>> 48);
        }
        return total;
    }

    /** xs[w] = the XOR of word w of the pages; returns their OR. An element-wise loop the JIT vectorises. */
    private static long xorWords(MemorySegment old, long oo, MemorySegment cur, long co, long[] xs) {
        long any = 0;
        for (int w = 0; w < PAGE_WORDS; w++) {
            long x = old.get(LONG, oo + ((long) w << 3)) ^ cur.get(LONG, co + ((long) w << 3));
            xs[w] = x;
            any |= x;
        }
        return any;
    }

    /** f[k] = the OR of xs[k + 64q] for q < 8: written out, so that the JIT vectorises it. */
    private static void foldWords(long[] xs, long[] f) {
        for (int k = 0; k < FOLD; k++) {
            f[k] = xs[k] | xs[k + 64] | xs[k + 128] | xs[k + 192] | xs[k + 256] | xs[k + 320] | xs[k + 384] | xs[k + 448];
        }
    }

    /** Scratch: the difference bitmap of the page being encoded, one bit per byte. */
    private final byte[] bitmap = new byte[((MAX_LENGTH + 63) >>> 6) << 3];

    /**
     * Scratch of the vector page encoder (a difference mask per 64 bytes), or null when 4096-byte pages take the
     * scalar path.
     */
    private final long[] masks;

    /**
     * Whether this JVM encodes 4096-byte pages with the Vector API: the {@code jdk.incubator.vector} module is in
     * the boot layer ({@code --add-modules jdk.incubator.vector}), its vectors are 256 or 512 bits wide, this
     * module may use restricted methods ({@link #ADDRESSES}), and the system property {@code ferry.xbzrle.vector}
     * is not {@code false}. Decided without loading a vector class when the module is absent. Even then only pages
     * whose new contents and output are in native memory take the vector path.
     */
    static final boolean VECTOR_PAGES = vectorPagesAvailable();

    private static boolean vectorPagesAvailable() {
        if (!Boolean.parseBoolean(System.getProperty("ferry.xbzrle.vector", "true")) || ADDRESSES == null
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return false;
        }
        return VectorPageEncoder.usable();
    }

    /** A codec with its own scratch space: use one per thread. */
    public XbzrleCodec() {
        this(VECTOR_PAGES);
    }

    /** A codec on the vector page path or the scalar one (both give the same bytes); for tests and benchmarks. */
    XbzrleCodec(boolean vectorPages) {
        if (vectorPages && !VECTOR_PAGES) {
            throw new IllegalStateException("the Vector API is not available in this JVM");
        }
        masks = vectorPages ? new long[VectorPageEncoder.BLOCKS] : null;
    }

    /** Whether this codec encodes 4096-byte pages with the Vector API. */
    boolean vectorPages() {
        return masks != null;
    }

    /**
     * {@code Objects.checkFromIndexSize} written out: the JDK's method is not inlined where the JIT deems its call
     * site rare, and was then two or three calls per page (seen in the compiled code).
     */
    private static void checkRange(long from, long size, long length) {
        if ((from | size) < 0 || size > length - from) {
            throw new IndexOutOfBoundsException("range [" + from + ", " + from + " + " + size
                    + ") out of bounds for length " + length);
        }
    }

    /**
     * Encodes {@code cur} as a delta against {@code old}.
     *
     * @param old       the old page contents (what the receiver holds)
     * @param oldOffset where the old page starts in {@code old}
     * @param cur       the new page contents
     * @param curOffset where the new page starts in {@code cur}
     * @param length    the page length in bytes, 0 to {@link #MAX_LENGTH}
     * @param dst       where the delta is written
     * @param dstOffset where the delta starts in {@code dst}
     * @param dstLimit  the most bytes the delta may take (QEMU uses one page); nothing is written
     *                  outside {@code [dstOffset, dstOffset + dstLimit)}, but bytes inside it past
     *                  the returned length may be overwritten
     * @return {@link #UNCHANGED} (0) if the pages are equal, {@link #OVERFLOW} (-1) if the delta
     *     does not fit in {@code dstLimit} as QEMU decides it (the bytes written are then
     *     meaningless), else the delta length
     * @throws IndexOutOfBoundsException if a range lies outside its segment
     * @throws IllegalArgumentException  if {@code length} is outside 0..{@link #MAX_LENGTH} or
     *     {@code dstLimit} is negative
     */
    public int encode(MemorySegment old, long oldOffset, MemorySegment cur, long curOffset, int length,
                      MemorySegment dst, long dstOffset, int dstLimit) {
        if (length < 0 || length > MAX_LENGTH) {
            throw new IllegalArgumentException("page length " + length + " outside 0.." + MAX_LENGTH);
        }
        if (dstLimit < 0) {
            throw new IllegalArgumentException("negative dstLimit " + dstLimit);
        }
        checkRange(oldOffset, length, old.byteSize());
        checkRange(curOffset, length, cur.byteSize());
        checkRange(dstOffset, dstLimit, dst.byteSize());

        if (length == 0) {
            return UNCHANGED; // QEMU's loop does not run: nothing is checked
        }
        if (dstLimit < 2) {
            return OVERFLOW; // QEMU checks for two free bytes before it looks at the page
        }
        if (length == PAGE) {
            return masks != null && cur.isNative() && dst.isNative() && !dst.isReadOnly()
                    ? VectorPageEncoder.encode(old, oldOffset, cur, curOffset, dst, dstOffset, dstLimit, masks)
                    : encodePage(old, oldOffset, cur, curOffset, dst, dstOffset, dstLimit);
        }
        // Pass 1: is anything different? A plain counted loop, which the JIT vectorises: it finds
        // unchanged pages at memory speed and, for the others, pulls both pages into the L1 cache
        // with many loads in flight, ahead of the run search below, whose loads depend on branches.
        long any = anyDifference(old, oldOffset, cur, curOffset, length);
        if (any == 0) {
            return UNCHANGED;
        }
        // Pass 2: the difference bitmap, bit p set iff byte p differs; one byte per 8-byte word,
        // so that 64 bytes of the page (a block) are described by one long. Another plain loop.
        final byte[] bm = bitmap;
        int blocks = fillBitmap(old, oldOffset, cur, curOffset, length, bm);
        return runs(cur, curOffset, length, dst, dstOffset, dstLimit, bm, blocks, dstLimit >>> 2);
    }

    /**
     * Pass 3: the runs of a page from its difference bitmap {@code bm} of {@code blocks} 64-byte
     * blocks; the lower bound of the rest is checked once {@code boundAt} bytes are written.
     */
    private static int runs(MemorySegment cur, long curOffset, int length, MemorySegment dst, long dstOffset,
                            int dstLimit, byte[] bm, int blocks, int boundAt) {
        // Pass 3: the runs, from the bitmap alone: run boundaries are numberOfTrailingZeros of
        // the block's bitmap, in registers; the page is read again only to copy non-zero runs.
        // (Shifts such as -1L << i take the count mod 64: i's position inside its block b.)
        int b = 0;
        long bits = (long) BITMAP.get(bm, 0);
        int d = 0;
        int i = 0;
        for (;;) {
            // Zero run [i, z): i lies in block b.
            long t = bits & (-1L << i);
            if (t == 0) {
                b = nextDifferingBlock(bm, b + 1, blocks);
                if (b == blocks) {
                    return d; // the trailing zero run is not written (i > 0: a difference exists)
                }
                bits = (long) BITMAP.get(bm, b << 3);
                t = bits;
            }
            int z = (b << 6) + Long.numberOfTrailingZeros(t);
            // Non-zero run [z, e). In a last block cut short, the bits past the end of the page are
            // clear, so the run stops there; after the last block, it stops at the end.
            t = ~bits & (-1L << z);
            while (t == 0 && ++b < blocks) {
                bits = (long) BITMAP.get(bm, b << 3);
                t = ~bits;
            }
            int e = t == 0 ? length : (b << 6) + Long.numberOfTrailingZeros(t);
            d = put(cur, curOffset, length, dst, dstOffset, dstLimit, d, z - i, z, e - z);
            if (d < 0) {
                return OVERFLOW;
            }
            if (e >= length) {
                return d;
            }
            if (d + 2 > dstLimit) {
                return OVERFLOW; // QEMU's check before each zero run
            }
            i = e;
            if (d >= boundAt) {
                // Once a quarter of the room is used, bound the rest from below: each remaining
                // run takes at least two length bytes and its data. If that cannot fit, QEMU
                // would overflow too, further on: stop now rather than copy data in vain.
                boundAt = Integer.MAX_VALUE;
                if (d + restLowerBound(bm, b, i, blocks) > dstLimit) {
                    return OVERFLOW;
                }
            }
        }
    }

    /**
     * Writes the pair {zero run of {@code zrun} bytes, non-zero run [z, z + n)} at output position
     * {@code d}; returns the new position, or -1 on overflow. Small enough to be inlined: when the
     * lengths and the run fit in one long (a run of at most five bytes), it is one 8-byte write
     * (QEMU's overflow checks, at most d + 4 <= dstLimit and d + 3 + n <= dstLimit, hold as d + 8
     * does; otherwise emit makes them one by one).
     */
    private static int put(MemorySegment cur, long curOffset, int length, MemorySegment dst, long dstOffset,
                           int dstLimit, int d, int zrun, int z, int n) {
        if (n <= 5 && d + 8 <= dstLimit && z + 8 <= length) {
            // Branch-free in the zero-run length's size, one byte or two (zrun < 2^14): on scattered
            // changes that is not predictable. big is -1 when it takes two bytes, else 0.
            int big = -(zrun >>> 7) >> 31;
            int zenc = zrun ^ ((zrun ^ ((zrun & 0x7f) | 0x80 | ((zrun >>> 7) << 8))) & big);
            int shift = 8 + (big & 8);
            long data = cur.get(LONG, curOffset + z) << (shift + 8);
            dst.set(LONG, dstOffset + d, zenc | ((long) n << shift) | data);
            return d + 2 + n - big;
        }
        return emit(cur, curOffset, length, dst, dstOffset, dstLimit, d, zrun, z, n);
    }

    /**
     * Writes one {zero run, non-zero run} pair with QEMU's overflow checks after the zero-run
     * length and before the data; returns the new output position, or -1 on overflow.
     */
    static int emit(MemorySegment cur, long curOffset, int length, MemorySegment dst, long dstOffset,
                            int dstLimit, int d, int zrun, int z, int n) {
        d = putLength(dst, dstOffset, d, zrun);
        if (d + 2 > dstLimit) {
            return -1;
        }
        d = putLength(dst, dstOffset, d, n);
        if (d + n > dstLimit) {
            return -1;
        }
        if (n >= 8) {
            long from = curOffset + z;
            long to = dstOffset + d;
            if (n <= 32) {
                // Overlapping 8-byte moves inside the run.
                long a = cur.get(LONG, from);
                long e = cur.get(LONG, from + n - 8);
                if (n > 16) {
                    long b = cur.get(LONG, from + 8);
                    long c = cur.get(LONG, from + n - 16);
                    dst.set(LONG, to + 8, b);
                    dst.set(LONG, to + n - 16, c);
                }
                dst.set(LONG, to, a);
                dst.set(LONG, to + n - 8, e);
            } else {
                MemorySegment.copy(cur, from, dst, to, n);
            }
        } else if (z + 8 <= length && d + 8 <= dstLimit) {
            // The bytes past the run land inside the limit and are overwritten next.
            dst.set(LONG, dstOffset + d, cur.get(LONG, curOffset + z));
        } else {
            MemorySegment.copy(cur, curOffset + z, dst, dstOffset + d, n);
        }
        return d + n;
    }

    /**
     * Applies a delta to a page in place, as QEMU's {@code xbzrle_decode_buffer} does.
     *
     * <p>Every length is checked before it is used; the checks are QEMU's, in QEMU's order. On an
     * exception the runs before the offending one have already been applied (as in QEMU), so the
     * page must then be treated as lost. Only the runs' bytes are written: bytes of the page outside
     * them are neither read nor written.
     *
     * @param delta       the delta
     * @param off         where the delta starts in {@code delta}
     * @param deltaLength the delta length in bytes
     * @param page        the page holding the old contents, updated in place
     * @param pageOffset  where the page starts in {@code page}
     * @param pageLength  the page length in bytes
     * @return the decoded extent: the page offset just past the last non-zero run (0 for an empty
     *     delta)
     * @throws XbzrleFormatException     if QEMU would reject the delta; the exception names the
     *     reason and the delta offset
     * @throws IndexOutOfBoundsException if a range lies outside its segment
     * @throws IllegalArgumentException  if a length is negative
     */
    public static int decode(MemorySegment delta, long off, int deltaLength,
                             MemorySegment page, long pageOffset, int pageLength) {
        long fastEnd = checkDecode(delta, off, deltaLength, page, pageOffset, pageLength);
        // The first run, when both its lengths take one byte and its bytes (at most six) come in the same 8-byte
        // read of the delta: decoded here, in a method small enough for the JIT to inline into the caller's loop
        // (under its 325-byte limit), so that a page with one small change (a counter; QEMU's memtest) costs no
        // call. Its bytes are stored as they are, one, two or four at a time: the loop this replaces merged them
        // into the page by an 8-byte read-modify-write and decoded memtest's deltas at 0.8-0.94x the C reference,
        // this at 1.9x (2048 pairs, docs/benchmarks.md). The rest of the delta, valid or not, goes to decodeRest.
        int i = 0;
        int d = 0;
        if (deltaLength > 0 && fastEnd >= 0) {
            long w = delta.get(LONG, off);
            int z = (int) w & 0xff;
            int n = (int) (w >>> 8) & 0xff;
            if (z < 0x80 && n > 0 && n <= 6 && n + 2 <= deltaLength && z <= pageLength - n) {
                storeShortRun(page, pageOffset + z, n, w >>> 16);
                d = z + n;
                i = n + 2;
            }
        }
        return i < deltaLength ? decodeRest(delta, off, deltaLength, page, pageOffset, pageLength, fastEnd, i, d) : d;
    }

    /** Stores the {@code n} (1 to 7) low bytes of {@code bytes} at {@code to}, and nothing else. */
    private static void storeShortRun(MemorySegment page, long to, int n, long bytes) {
        if (n == 1) {
            page.set(BYTE, to, (byte) bytes);
        } else if (n <= 3) {
            page.set(SHORT, to, (short) bytes);
            page.set(SHORT, to + n - 2, (short) (bytes >>> ((n - 2) << 3)));
        } else {
            page.set(INT, to, (int) bytes);
            page.set(INT, to + n - 4, (int) (bytes >>> ((n - 4) << 3)));
        }
    }

    /**
     * What {@link #decode}'s first step leaves, from delta position {@code i} and page position {@code d}: a
     * method of its own, so that {@code decode} stays small enough to be inlined. In native memory it makes one
     * checked access to each segment here, where (inlined with {@code decode}) the JIT hoists the segments'
     * checks out of the caller's loop, and hands their addresses to {@link #decodeFrom}; whatever that leaves,
     * and anything in heap memory, goes to {@link #decodeChecked}.
     */
    private static int decodeRest(MemorySegment delta, long off, int deltaLength, MemorySegment page,
                                  long pageOffset, int pageLength, long fastEnd, int i, int d) {
        if (ADDRESSES != null && pageLength > 0 && delta.isNative() && page.isNative() && !page.isReadOnly()) {
            delta.get(BYTE, off);
            page.get(BYTE, pageOffset);
            long da = delta.address() + off;
            long pa = page.address() + pageOffset;
            long reached = decodeFrom(da + i, pa + d, da + Math.min(fastEnd, deltaLength - 1), da, da + deltaLength,
                    pa, pa + pageLength);
            i = (int) (reached >>> 32);
            d = (int) reached;
            if (i >= deltaLength) {
                return d;
            }
        }
        return decodeChecked(delta, off, deltaLength, page, pageOffset, pageLength, i, d);
    }

    /**
     * The decoder for runs of any length with the delta and the page in native memory (a frame buffer, guest
     * RAM: where a migration decodes), by address: the delta from {@code da} to {@code dEnd}, its next run at
     * {@code p} (read while {@code p <= last}: 8 bytes from there lie in the delta's segment), the page from
     * {@code pa} to {@code pEnd}, its next position {@code q}. Lengths come from one 8-byte read, every check of a
     * run is one test, and each run's bytes are moved exactly: up to 7 bytes by one or two 1-, 2- or 4-byte moves
     * (never a read-modify-write of 8 bytes of the page), up to 32 by overlapping 8-byte moves, longer ones by
     * {@link MemorySegment#copy}. It stops at the first run the test refuses (an error, or the last bytes of the
     * delta segment) and returns the delta and page positions reached, {@code (i << 32) | d}, from which
     * {@link #decodeChecked} goes on, checking in QEMU's order and naming what is wrong.
     *
     * <p>It reads and writes through {@link #ADDRESSES}: a native segment's accessors check at every access that
     * its arena is open and (if confined) owned by this thread, which the JIT does not hoist out of a loop whose
     * steps depend on the data. Every position is checked against the ranges that {@link #checkDecode} and the
     * loop's own test establish, as everywhere in this codec; the caller keeps both segments alive for the call,
     * as for any access. Positions are addresses, not offsets from them, and the segments stay with the caller:
     * fewer values to keep in registers, which decoded pages of scattered or dense changes and of 25-byte runs
     * 8-20% faster (docs/benchmarks.md).
     */
    private static long decodeFrom(long p, long q, long last, long da, long dEnd, long pa, long pEnd) {
        final MemorySegment mem = ADDRESSES;
        while (p <= last) {
            long w = mem.get(LONG, p);
            int z;
            int n;
            long data;
            // The two usual shapes of a run's lengths (a one-byte non-zero-run length after a one- or two-byte
            // zero-run length) by a branch each: predicted, the next run's read need not wait for the lengths to
            // be worked out, as it must in the branch-free form below (runs of 17-32 bytes decoded 16-25% faster
            // from the caches, A/B on 2026-12-01).
            if ((w & 0x8080) == 0) {
                z = (int) w & 0x7f;
                n = (int) (w >>> 8) & 0x7f;
                data = p + 2;
            } else if ((w & 0x808080) == 0x80) {
                z = ((int) w & 0x7f) | ((int) (w >>> 1) & 0x3f80);
                n = (int) (w >>> 16) & 0x7f;
                data = p + 3;
            } else {
                int k = (int) (w >>> 7) & 1;
                z = ((int) w & 0x7f) | ((int) (w >>> 1) & 0x3f80 & -k);
                long rest = w >>> (8 << k);
                int kk = (int) (rest >>> 7) & 1;
                n = ((int) rest & 0x7f) | ((int) (rest >>> 1) & 0x3f80 & -kk);
                data = p + 2 + k + kk;
                if ((((int) (w >>> 15) & k) | ((int) (rest >>> 15) & kk)) != 0) {
                    break;
                }
            }
            long to = q + z;
            if (n == 0 || (z == 0 && p != da) || to > pEnd - n || data > dEnd - n) {
                break; // an error, found again and named by decodeChecked
            }
            long from = data;
            // The moves are written out here, not shared with the encoder's emit: as one shared method
            // the decoder ran 10-15% slower on runs of 17-32 bytes (A/B of both forms, 2026-12-01).
            if (n < 8) {
                if (n == 1) {
                    mem.set(BYTE, to, mem.get(BYTE, from));
                } else if (n <= 3) {
                    short a = mem.get(SHORT, from);
                    short e = mem.get(SHORT, from + n - 2);
                    mem.set(SHORT, to, a);
                    mem.set(SHORT, to + n - 2, e);
                } else {
                    int a = mem.get(INT, from);
                    int e = mem.get(INT, from + n - 4);
                    mem.set(INT, to, a);
                    mem.set(INT, to + n - 4, e);
                }
            } else if (n <= 16) {
                long a = mem.get(LONG, from);
                long e = mem.get(LONG, from + n - 8);
                mem.set(LONG, to, a);
                mem.set(LONG, to + n - 8, e);
            } else if (n <= 32) {
                long a = mem.get(LONG, from);
                long b = mem.get(LONG, from + 8);
                long c = mem.get(LONG, from + n - 16);
                long e = mem.get(LONG, from + n - 8);
                mem.set(LONG, to, a);
                mem.set(LONG, to + 8, b);
                mem.set(LONG, to + n - 16, c);
                mem.set(LONG, to + n - 8, e);
            } else {
                MemorySegment.copy(mem, from, mem, to, n);
            }
            q = to + n;
            p = data + n;
        }
        return ((p - da) << 32) | (q - pa);
    }

    /** The decoder that checks each length in QEMU's order, from delta position {@code i} and page position {@code d} on. */
    private static int decodeChecked(MemorySegment delta, long off, int deltaLength,
                                  MemorySegment page, long pageOffset, int pageLength, int i, int d) {
        final int end = deltaLength;
        // Positions i with a whole long of the delta segment from there (possibly past the delta's
        // end: such bytes are read but never used) take the fast path.
        final long fastEnd = Math.min(delta.byteSize() - off - 8, Integer.MAX_VALUE);
        while (i < end) {
            int z;
            int n;
            int data;
            long w;
            if (i <= fastEnd) {
                // Both lengths out of one read of the delta.
                w = delta.get(LONG, off + i);
                if (end - i < 2) {
                    throw truncatedLength(i, end);
                }
                int b = (int) w & 0xff;
                int k;
                if (b < 0x80) {
                    z = b;
                    k = 1;
                } else {
                    int b1 = (int) (w >>> 8) & 0xff;
                    if (b1 >= 0x80) {
                        throw tooLong(i);
                    }
                    z = (b & 0x7f) | (b1 << 7);
                    k = 2;
                }
                if (z == 0 && i != 0) {
                    throw emptyZeroRun(i);
                }
                d += z;
                if (d > pageLength) {
                    throw zeroRunPastEnd(i, z, d, pageLength);
                }
                int j = i + k;
                if (end - j < 2) {
                    throw truncatedLength(j, end);
                }
                long w2 = w >>> (k << 3);
                b = (int) w2 & 0xff;
                if (b < 0x80) {
                    n = b;
                    k = 1;
                } else {
                    int b1 = (int) (w2 >>> 8) & 0xff;
                    if (b1 >= 0x80) {
                        throw tooLong(j);
                    }
                    n = (b & 0x7f) | (b1 << 7);
                    k = 2;
                }
                if (n == 0) {
                    throw emptyNonZeroRun(j);
                }
                data = j + k;
                checkNonZeroRun(j, data, n, d, pageLength, end);
                int used = data - i; // 2 to 4 header bytes
                if (n <= 8 - used) {
                    storeShortRun(page, pageOffset + d, n, w >>> (used << 3)); // the run's bytes are in w already
                    d += n;
                    i = data + n;
                    continue;
                }
            } else {
                // The last bytes of the delta segment: byte by byte, the same checks.
                if (end - i < 2) {
                    throw truncatedLength(i, end);
                }
                int b = delta.get(BYTE, off + i) & 0xff;
                int k;
                if (b < 0x80) {
                    z = b;
                    k = 1;
                } else {
                    int b1 = delta.get(BYTE, off + i + 1) & 0xff;
                    if (b1 >= 0x80) {
                        throw tooLong(i);
                    }
                    z = (b & 0x7f) | (b1 << 7);
                    k = 2;
                }
                if (z == 0 && i != 0) {
                    throw emptyZeroRun(i);
                }
                d += z;
                if (d > pageLength) {
                    throw zeroRunPastEnd(i, z, d, pageLength);
                }
                int j = i + k;
                if (end - j < 2) {
                    throw truncatedLength(j, end);
                }
                b = delta.get(BYTE, off + j) & 0xff;
                if (b < 0x80) {
                    n = b;
                    k = 1;
                } else {
                    int b1 = delta.get(BYTE, off + j + 1) & 0xff;
                    if (b1 >= 0x80) {
                        throw tooLong(j);
                    }
                    n = (b & 0x7f) | (b1 << 7);
                    k = 2;
                }
                if (n == 0) {
                    throw emptyNonZeroRun(j);
                }
                data = j + k;
                checkNonZeroRun(j, data, n, d, pageLength, end);
            }
            if (n >= 8) {
                long from = off + data;
                long to = pageOffset + d;
                if (n <= 32) {
                    // Overlapping 8-byte moves inside the run: no byte around it is touched.
                    long a = delta.get(LONG, from);
                    long e = delta.get(LONG, from + n - 8);
                    if (n > 16) {
                        long b = delta.get(LONG, from + 8);
                        long c = delta.get(LONG, from + n - 16);
                        page.set(LONG, to + 8, b);
                        page.set(LONG, to + n - 16, c);
                    }
                    page.set(LONG, to, a);
                    page.set(LONG, to + n - 8, e);
                } else {
                    MemorySegment.copy(delta, from, page, to, n);
                }
            } else if (data <= fastEnd) {
                storeShortRun(page, pageOffset + d, n, delta.get(LONG, off + data));
            } else {
                MemorySegment.copy(delta, off + data, page, pageOffset + d, n);
            }
            d += n;
            i = data + n;
        }
        return d;
    }

    // ---------------------------------------------------------------------------------------------
    // Encoder helpers

    /**
     * Fills {@code bm} with the difference bitmap of the page (bit p set iff byte p differs), clear
     * past the end up to the end of the last 64-byte block; returns the number of blocks.
     */
    private static int fillBitmap(MemorySegment old, long oo, MemorySegment cur, long co, int length, byte[] bm) {
        int words = length >>> 3;
        for (int w = 0; w < words; w++) {
            long x = old.get(LONG, oo + ((long) w << 3)) ^ cur.get(LONG, co + ((long) w << 3));
            bm[w] = (byte) gather(x);
        }
        int blocks = (length + 63) >>> 6;
        int end = blocks << 3;
        for (int w = words; w < end; w++) {
            bm[w] = 0;
        }
        for (int p = words << 3; p < length; p++) {
            if (old.get(BYTE, oo + p) != cur.get(BYTE, co + p)) {
                bm[words] |= (byte) (1 << (p & 7));
            }
        }
        return blocks;
    }

    /** The first block at or after {@code b} with a difference, or {@code blocks}: four at a time. */
    private static int nextDifferingBlock(byte[] bm, int b, int blocks) {
        while (b + 4 <= blocks && ((long) BITMAP.get(bm, b << 3) | (long) BITMAP.get(bm, (b << 3) + 8)
                | (long) BITMAP.get(bm, (b << 3) + 16) | (long) BITMAP.get(bm, (b << 3) + 24)) == 0) {
            b += 4;
        }
        while (b < blocks && (long) BITMAP.get(bm, b << 3) == 0) {
            b++;
        }
        return b;
    }

    /**
     * A lower bound of the bytes that the runs from {@code i} (the start of a zero run, in block
     * {@code b}) take: two length bytes per run plus the differing bytes.
     */
    private static long restLowerBound(byte[] bm, int b, int i, int blocks) {
        long v = (long) BITMAP.get(bm, b << 3) & (-1L << i); // bit i is clear: i is an equal byte
        long differing = Long.bitCount(v);
        long runs = Long.bitCount(v & ~(v << 1));
        long carry = v >>> 63;
        for (int k = b + 1; k < blocks; k++) {
            v = (long) BITMAP.get(bm, k << 3);
            differing += Long.bitCount(v);
            runs += Long.bitCount(v & ~((v << 1) | carry));
            carry = v >>> 63;
        }
        return 2 * runs + differing;
    }

    /** One bit per byte of {@code x}, bit k set iff byte k is non-zero. */
    private static long gather(long x) {
        return ((nonZeroBytes(x) >>> 7) * 0x0102040810204080L) >>> 56;
    }

    /**
     * Non-zero iff the pages differ. A plain counted loop in a method of its own, which the JIT
     * vectorises (inside the big encode loop it does not).
     */
    private static long anyDifference(MemorySegment old, long oo, MemorySegment cur, long co, int length) {
        long any = 0;
        int words = length >>> 3;
        for (int w = 0; w < words; w++) {
            any |= old.get(LONG, oo + ((long) w << 3)) ^ cur.get(LONG, co + ((long) w << 3));
        }
        for (int p = words << 3; p < length; p++) {
            any |= old.get(BYTE, oo + p) ^ cur.get(BYTE, co + p);
        }
        return any;
    }

    /** Writes a run length (at most 14 bits) as ULEB128 at {@code base + d}; returns the new d. */
    private static int putLength(MemorySegment dst, long base, int d, int v) {
        if (v < 0x80) {
            dst.set(BYTE, base + d, (byte) v);
            return d + 1;
        }
        dst.set(BYTE, base + d, (byte) (v | 0x80));
        dst.set(BYTE, base + d + 1, (byte) (v >>> 7));
        return d + 2;
    }

    // ---------------------------------------------------------------------------------------------
    // Decoder errors (cold)

    private static void checkNonZeroRun(int lengthAt, int data, int n, int d, int pageLength, int end) {
        if (d + n > pageLength) {
            throw pastEnd(lengthAt, "non-zero run of " + n + " bytes at page offset " + d, pageLength);
        }
        if (data + n > end) {
            throw new XbzrleFormatException(XbzrleFormatException.Reason.TRUNCATED_DATA, lengthAt,
                    "non-zero run of " + n + " bytes at delta offset " + data + ", delta length " + end);
        }
    }

    /** Checks decode's arguments; returns the last delta position with 8 readable bytes from it. */
    private static long checkDecode(MemorySegment delta, long off, int deltaLength, MemorySegment page,
                                    long pageOffset, int pageLength) {
        if ((deltaLength | pageLength) < 0) {
            throw new IllegalArgumentException("negative length: delta " + deltaLength + ", page " + pageLength);
        }
        checkRange(off, deltaLength, delta.byteSize());
        checkRange(pageOffset, pageLength, page.byteSize());
        return delta.byteSize() - off - 8;
    }

    private static XbzrleFormatException emptyZeroRun(int at) {
        return new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_ZERO_RUN, at, "");
    }

    private static XbzrleFormatException emptyNonZeroRun(int at) {
        return new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_NONZERO_RUN, at, "");
    }

    private static XbzrleFormatException zeroRunPastEnd(int at, int z, int d, int pageLength) {
        return pastEnd(at, "zero run of " + z + " bytes ends at page offset " + d, pageLength);
    }

    private static XbzrleFormatException tooLong(int at) {
        return new XbzrleFormatException(XbzrleFormatException.Reason.LENGTH_TOO_LONG, at, "");
    }

    private static XbzrleFormatException truncatedLength(int at, int end) {
        return new XbzrleFormatException(XbzrleFormatException.Reason.TRUNCATED_LENGTH, at,
                "delta length " + end);
    }

    private static XbzrleFormatException pastEnd(int at, String what, int pageLength) {
        return new XbzrleFormatException(XbzrleFormatException.Reason.RUN_PAST_PAGE_END, at,
                what + ", page length " + pageLength);
    }
}
