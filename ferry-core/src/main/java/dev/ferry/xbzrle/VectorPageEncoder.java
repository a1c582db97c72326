/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The XBZRLE encoder of 4096-byte pages with the JDK's Vector API ({@code jdk.incubator.vector}): the pages are
 * compared 64 bytes at a time into 64 equality masks, one bit per byte, and the runs are read off the masks with
 * {@link Long#numberOfTrailingZeros}.
 *
 * <p>Used by {@link XbzrleCodec} only when the module is in the boot layer ({@code --add-modules
 * jdk.incubator.vector}, which the {@code ferry} launcher passes), the processor compares at least 256 bits at
 * a time, and Ferry may use restricted methods ({@code --enable-native-access}, also passed); otherwise this class
 * is never loaded and the scalar page path runs. It takes pages whose new contents and output are in native memory
 * (as a migration's are); pages in heap memory take the scalar path too. Its output is byte for byte that of the
 * scalar path (and of QEMU), overflow decisions included.
 *
 * <p>Why it is fast: a vector compare and its mask ({@code vpcmpneqb} and {@code kmovq} with AVX-512; two
 * compares and two byte masks with AVX2) give 64 bytes' differences in a few instructions, where the scalar path
 * needs a pass for the XOR words and then per-word bit tricks. One pass over both pages gives all 64 masks, so a
 * page with few changes costs little more than reading it; a run boundary then costs a few register operations
 * and no load. Measured in docs/benchmarks.md.
 */
final class VectorPageEncoder {
    /** The page length this encoder handles. */
    static final int PAGE = 4096;
    /** Blocks of 64 bytes in a page: one mask each, in the scratch a caller provides. */
    static final int BLOCKS = PAGE >>> 6;

    /** The widest byte species the processor has; 64 or 32 lanes (see {@link #usable()}). */
    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_PREFERRED;
    private static final int LANES = BYTES.length();
    /** Longs of the same width, to summarise the masks a vector at a time. */
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    /** Past this many blocks with a difference a page is checked for a certain overflow before its runs. */
    private static final int DENSE_BLOCKS = 40;

    private VectorPageEncoder() {
    }

    /** True when the vector species is 256 or 512 bits: narrower ones would be slower than the scalar path. */
    static boolean usable() {
        return LANES == 32 || LANES == 64;
    }

    /** The species width in bits, for tests. */
    static int bits() {
        return BYTES.vectorBitSize();
    }

    /**
     * Encodes a 4096-byte page; the arguments are checked by the caller ({@code dstLimit >= 2}). Returns the delta
     * length, {@link XbzrleCodec#UNCHANGED} or {@link XbzrleCodec#OVERFLOW}, exactly as QEMU decides them.
     *
     * @param cur the new contents, in native memory
     * @param dst the output, in native memory and writable
     * @param masks scratch of at least {@link #BLOCKS} longs
     */
    static int encode(MemorySegment old, long oo, MemorySegment cur, long co, MemorySegment dst, long dOff,
                      int dstLimit, long[] masks) {
        // One pass: mask j has bit k set iff byte 64j + k differs. A plain counted loop of loads, a compare and a
        // store, which the JIT unrolls; its loads are all independent, so many are in flight at once.
        for (int j = 0; j < BLOCKS; j++) {
            long at = (long) j << 6;
            long m = ByteVector.fromMemorySegment(BYTES, old, oo + at, LE)
                    .compare(VectorOperators.NE, ByteVector.fromMemorySegment(BYTES, cur, co + at, LE)).toLong();
            if (LANES == 32) { // AVX2: a second compare for the upper half of the block
                m |= ByteVector.fromMemorySegment(BYTES, old, oo + at + 32, LE)
                        .compare(VectorOperators.NE, ByteVector.fromMemorySegment(BYTES, cur, co + at + 32, LE))
                        .toLong() << 32;
            }
            masks[j] = m;
        }
        // Bit j of nz: block j has a difference. From the masks a vector of longs at a time (8 or 4 per compare).
        // An unchanged page is told from it too: an OR of the masks in the loop above costs an operation a block.
        long nz = 0;
        for (int j = 0; j < BLOCKS; j += LONGS.length()) {
            nz |= LongVector.fromArray(LONGS, masks, j).compare(VectorOperators.NE, 0L).toLong() << j;
        }
        if (nz == 0) {
            return XbzrleCodec.UNCHANGED;
        }
        if (Long.bitCount(nz) > DENSE_BLOCKS && lowerBound(masks) > dstLimit) {
            return XbzrleCodec.OVERFLOW; // QEMU would find it at the end, after copying most of the page
        }
        dst.get(ValueLayout.JAVA_BYTE, dOff); // the one check that dst is alive and this thread's (see runs)
        return runs(masks, nz, cur.address() + co, dst.address() + dOff, dstLimit);
    }

    /**
     * The runs, from the masks: a zero run ends at the first set bit at or after its start (the next block with a
     * difference found from {@code nz}), a non-zero run at the first clear bit after that. The new page is at
     * address {@code co}, the output at {@code dOff}; both are read and written through
     * {@link XbzrleCodec#ADDRESSES}, as the decoder's loop does and for the same reason: a native segment's
     * accessors check at every access that its arena is open and this thread's, which the JIT does not hoist out
     * of this loop. Every access lies in the ranges the codec checked before the call. By address, pages of
     * scattered and dense changes and of 25-byte runs were encoded 5-30% faster (docs/benchmarks.md).
     */
    private static int runs(long[] ms, long nz, long co, long dOff, int dstLimit) {
        int b = Long.numberOfTrailingZeros(nz);
        long bits = ms[b];
        int d = 0;
        int i = 0; // the zero run from i; i lies in block b, or before it with nothing differing in between
        for (;;) {
            long t = bits & (-1L << i); // a shift takes its count mod 64: i's place in its block
            if (t == 0) {
                long rest = nz & (-2L << b);
                if (rest == 0) {
                    return d; // the trailing zero run is not written
                }
                b = Long.numberOfTrailingZeros(rest);
                bits = ms[b];
                t = bits;
            }
            int z = (b << 6) + Long.numberOfTrailingZeros(t);
            t = ~bits & (-1L << z);
            while (t == 0 && ++b < BLOCKS) {
                bits = ms[b];
                t = ~bits;
            }
            int e = t == 0 ? PAGE : (b << 6) + Long.numberOfTrailingZeros(t);
            d = put(co, dOff, dstLimit, d, z - i, z, e - z);
            if (d < 0) {
                return XbzrleCodec.OVERFLOW;
            }
            if (e >= PAGE) {
                return d;
            }
            if (d + 2 > dstLimit) {
                return XbzrleCodec.OVERFLOW; // QEMU's check before each zero run, the trailing one included
            }
            i = e;
        }
    }

    /**
     * A lower bound of the delta: two length bytes per run plus its differing bytes. A run that crosses blocks is
     * counted once: a block's carry is the last bit of the block before.
     */
    private static int lowerBound(long[] ms) {
        int differing = 0;
        int runs = 0;
        long carry = 0;
        for (int j = 0; j < BLOCKS; j++) {
            long v = ms[j];
            differing += Long.bitCount(v);
            runs += Long.bitCount(v & ~((v << 1) | carry));
            carry = v >>> 63;
        }
        return 2 * runs + differing;
    }

    /**
     * Writes the pair {zero run of {@code zrun} bytes, non-zero run [z, z + n)} at output position {@code d};
     * returns the new position, or -1 on overflow. With room to spare (QEMU's checks then all pass) it is one
     * 8-byte store for a run of up to five bytes, or a 4-byte store of the lengths and one vector store of 64
     * bytes for one of up to 60: the bytes past the run land inside the limit and are overwritten by the next pair
     * or lie past the returned length. The zero-run length's encoding is written out here as in
     * {@code XbzrleCodec.put}, not shared: as one helper both encoders ran 5-10% slower on pages of short runs
     * (scripts/xbzrle-ab.sh, 64-pair corpora, 2026-12-02).
     */
    private static int put(long co, long dOff, int dstLimit, int d, int zrun, int z, int n) {
        final MemorySegment cur = XbzrleCodec.ADDRESSES;
        final MemorySegment dst = XbzrleCodec.ADDRESSES;
        if (n <= 60 && d + 68 <= dstLimit && z + 64 <= PAGE) {
            // The zero-run length in one byte or two (zrun < 2^14), branch-free: big is -1 for two, else 0.
            int big = -(zrun >>> 7) >> 31;
            int zenc = zrun ^ ((zrun ^ ((zrun & 0x7f) | 0x80 | ((zrun >>> 7) << 8))) & big);
            int shift = 8 + (big & 8);
            if (n <= 5) {
                long data = cur.get(LONG, co + z) << (shift + 8);
                dst.set(LONG, dOff + d, zenc | ((long) n << shift) | data);
            } else {
                dst.set(INT, dOff + d, zenc | (n << shift));
                ByteVector.fromMemorySegment(BYTES, cur, co + z, LE).intoMemorySegment(dst, dOff + d + 2 - big, LE);
                if (LANES == 32) {
                    ByteVector.fromMemorySegment(BYTES, cur, co + z + 32, LE)
                            .intoMemorySegment(dst, dOff + d + 34 - big, LE);
                }
            }
            return d + 2 + n - big;
        }
        return XbzrleCodec.emit(cur, co, PAGE, dst, dOff, dstLimit, d, zrun, z, n);
    }
}
