/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

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
 * <h2>Performance</h2>
 * Both methods are static, thread-safe, and allocate nothing: they read the pages eight bytes at a
 * time (little-endian longs), locate run boundaries with XOR and per-byte zero masks and
 * {@link Long#numberOfTrailingZeros}, hand long equal stretches to the vectorised
 * {@link MemorySegment#mismatch}, and copy long runs with {@link MemorySegment#copy}.
 * The segments may be heap or native; they must not overlap {@code dst}.
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

    private static final long LOW7 = 0x7f7f7f7f7f7f7f7fL;
    private static final long HIGH = 0x8080808080808080L;

    private static final long ONES = 0x0101010101010101L;

    private XbzrleCodec() {
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
     *                  outside {@code [dstOffset, dstOffset + dstLimit)}
     * @return {@link #UNCHANGED} (0) if the pages are equal, {@link #OVERFLOW} (-1) if the delta
     *     does not fit in {@code dstLimit} as QEMU decides it (the bytes written are then
     *     meaningless), else the delta length
     * @throws IndexOutOfBoundsException if a range lies outside its segment
     * @throws IllegalArgumentException  if {@code length} is outside 0..{@link #MAX_LENGTH} or
     *     {@code dstLimit} is negative
     */
    public static int encode(MemorySegment old, long oldOffset, MemorySegment cur, long curOffset, int length,
                             MemorySegment dst, long dstOffset, int dstLimit) {
        if (length < 0 || length > MAX_LENGTH) {
            throw new IllegalArgumentException("page length " + length + " outside 0.." + MAX_LENGTH);
        }
        if (dstLimit < 0) {
            throw new IllegalArgumentException("negative dstLimit " + dstLimit);
        }
        Objects.checkFromIndexSize(oldOffset, length, old.byteSize());
        Objects.checkFromIndexSize(curOffset, length, cur.byteSize());
        Objects.checkFromIndexSize(dstOffset, dstLimit, dst.byteSize());

        if (length == 0) {
            return UNCHANGED; // QEMU's loop does not run: nothing is checked
        }
        if (dstLimit < 2) {
            return OVERFLOW; // QEMU checks for two free bytes before it looks at the page
        }
        // Pass 1: is anything different? A plain counted loop, which the JIT vectorises: it finds
        // unchanged pages at memory speed and, for the others, pulls both pages into the L1 cache
        // with many loads in flight, ahead of the run search below, whose loads depend on branches.
        long any = anyDifference(old, oldOffset, cur, curOffset, length);
        if (any == 0) {
            return UNCHANGED;
        }
        // Pass 2: the runs, block by block. For the 64-byte block at 'base', bit k of 'bits' is set
        // iff byte base + k differs (clear past the end of the page), and run boundaries come from
        // numberOfTrailingZeros on 'bits', in registers: searching them byte- or word-wise would
        // make each run wait on loads of its own. A run may span blocks: 'inRun' says whether the
        // scan is in the zero run that starts at i or in the non-zero run [z, ...) after it. The
        // block is loaded in one place only: each inlined segment access costs the JIT many nodes,
        // and too many stop it inlining the rest.
        int d = 0;
        int i = 0;
        int z = 0;
        boolean inRun = false;
        final int lastBlock = length - 64; // the last position with a whole block from there
        int base = 0;
        blocks:
        while (base < length) {
            long bits;
            if (base > lastBlock) {
                bits = tailBits(old, oldOffset, cur, curOffset, base, length);
            } else {
                long x0;
                long x1;
                long x2;
                long x3;
                long x4;
                long x5;
                long x6;
                long x7;
                // Skip whole blocks: inside a non-zero run those where every byte differs, inside a
                // zero run equal ones (two, then the vectorised mismatch). Tight loops without
                // calls, so that the JIT hoists the segment checks out of them.
                found:
                {
                    if (inRun) {
                        for (; base <= lastBlock; base += 64) {
                            long o = oldOffset + base;
                            long c = curOffset + base;
                            x0 = old.get(LONG, o) ^ cur.get(LONG, c);
                            x1 = old.get(LONG, o + 8) ^ cur.get(LONG, c + 8);
                            x2 = old.get(LONG, o + 16) ^ cur.get(LONG, c + 16);
                            x3 = old.get(LONG, o + 24) ^ cur.get(LONG, c + 24);
                            x4 = old.get(LONG, o + 32) ^ cur.get(LONG, c + 32);
                            x5 = old.get(LONG, o + 40) ^ cur.get(LONG, c + 40);
                            x6 = old.get(LONG, o + 48) ^ cur.get(LONG, c + 48);
                            x7 = old.get(LONG, o + 56) ^ cur.get(LONG, c + 56);
                            // Any equal byte (a zero byte of the XOR)? Exact, as QEMU's word test.
                            long h = ((x0 - ONES) & ~x0) | ((x1 - ONES) & ~x1) | ((x2 - ONES) & ~x2)
                                    | ((x3 - ONES) & ~x3) | ((x4 - ONES) & ~x4) | ((x5 - ONES) & ~x5)
                                    | ((x6 - ONES) & ~x6) | ((x7 - ONES) & ~x7);
                            if ((h & HIGH) != 0) {
                                break found;
                            }
                        }
                    } else {
                        for (int k = 0; k < 2 && base <= lastBlock; k++, base += 64) {
                            long o = oldOffset + base;
                            long c = curOffset + base;
                            x0 = old.get(LONG, o) ^ cur.get(LONG, c);
                            x1 = old.get(LONG, o + 8) ^ cur.get(LONG, c + 8);
                            x2 = old.get(LONG, o + 16) ^ cur.get(LONG, c + 16);
                            x3 = old.get(LONG, o + 24) ^ cur.get(LONG, c + 24);
                            x4 = old.get(LONG, o + 32) ^ cur.get(LONG, c + 32);
                            x5 = old.get(LONG, o + 40) ^ cur.get(LONG, c + 40);
                            x6 = old.get(LONG, o + 48) ^ cur.get(LONG, c + 48);
                            x7 = old.get(LONG, o + 56) ^ cur.get(LONG, c + 56);
                            if ((x0 | x1 | x2 | x3 | x4 | x5 | x6 | x7) != 0) {
                                break found;
                            }
                        }
                        if (base <= lastBlock) {
                            int p = mismatchFrom(old, oldOffset, cur, curOffset, base, length);
                            if (p == length) {
                                break blocks;
                            }
                            base = p & ~63; // the bits before p are clear: those bytes are equal
                        }
                    }
                    continue blocks; // the tail block, the end, or the block after the mismatch
                }
                bits = gather(x0) | gather(x1) << 8 | gather(x2) << 16 | gather(x3) << 24
                        | gather(x4) << 32 | gather(x5) << 40 | gather(x6) << 48 | gather(x7) << 56;
            }
            for (;;) {
                long t;
                if (!inRun) {
                    t = bits & (-1L << Math.max(i - base, 0));
                    if (t == 0) {
                        break; // the zero run goes on into the next block
                    }
                    z = base + Long.numberOfTrailingZeros(t);
                    inRun = true;
                }
                t = ~bits & (-1L << Math.max(z - base, 0));
                if (t == 0) {
                    break; // the non-zero run goes on into the next block
                }
                int e = base + Long.numberOfTrailingZeros(t);
                int zrun = z - i;
                int n = e - z;
                if ((zrun | n) < 0x80 && n <= 6 && d + 8 <= dstLimit && z + 8 <= length) {
                    // Both lengths take one byte and the run fits in the same long: one write. The
                    // overflow checks (d + 3 <= dstLimit, d + 2 + n <= dstLimit) hold as d + 8 does.
                    dst.set(LONG, dstOffset + d, zrun | (n << 8) | (cur.get(LONG, curOffset + z) << 16));
                    d += 2 + n;
                } else {
                    d = emit(cur, curOffset, length, dst, dstOffset, dstLimit, d, zrun, z, n);
                    if (d < 0) {
                        return OVERFLOW;
                    }
                }
                if (e >= length) {
                    return d;
                }
                if (d + 2 > dstLimit) {
                    return OVERFLOW; // QEMU's check before each zero run
                }
                i = e;
                inRun = false;
            }
            base += 64;
        }
        if (!inRun) {
            return i == 0 ? UNCHANGED : d; // the trailing zero run is not written
        }
        d = emit(cur, curOffset, length, dst, dstOffset, dstLimit, d, z - i, z, length - z);
        return d < 0 ? OVERFLOW : d;
    }

    /**
     * Writes one {zero run, non-zero run} pair with QEMU's overflow checks after the zero-run
     * length and before the data; returns the new output position, or -1 on overflow.
     */
    private static int emit(MemorySegment cur, long curOffset, int length, MemorySegment dst, long dstOffset,
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
            copyAtLeast8(cur, curOffset + z, dst, dstOffset + d, n);
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
     * page must then be treated as lost. Bytes of the page outside the runs are never changed, but
     * short runs are applied by an 8-byte read-modify-write, so no other thread may write the page
     * during the call.
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
        if (deltaLength < 0 || pageLength < 0) {
            throw new IllegalArgumentException("negative length: delta " + deltaLength + ", page " + pageLength);
        }
        Objects.checkFromIndexSize(off, deltaLength, delta.byteSize());
        Objects.checkFromIndexSize(pageOffset, pageLength, page.byteSize());

        final int end = deltaLength;
        // Positions i with a whole long of the delta segment from there (possibly past the delta's
        // end: such bytes are read but never used) take the fast path.
        final long fastEnd = Math.min(delta.byteSize() - off - 8, Integer.MAX_VALUE);
        final int pageWordEnd = pageLength - 8;
        int i = 0;
        int d = 0;
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
                if (n <= 8 - used && d <= pageWordEnd) {
                    // The run's bytes are in w already: merge them into the page with one long
                    // read-modify-write that rewrites the bytes after the run with their own value.
                    long mask = (1L << (n << 3)) - 1;
                    long p = page.get(LONG, pageOffset + d);
                    page.set(LONG, pageOffset + d, (p & ~mask) | ((w >>> (used << 3)) & mask));
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
                copyAtLeast8(delta, off + data, page, pageOffset + d, n);
            } else if (data <= fastEnd && d <= pageWordEnd) {
                long mask = (1L << (n << 3)) - 1;
                long p = page.get(LONG, pageOffset + d);
                page.set(LONG, pageOffset + d, (p & ~mask) | (delta.get(LONG, off + data) & mask));
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

    private static long tailBits(MemorySegment old, long oo, MemorySegment cur, long co, int base, int length) {
        long b = 0;
        for (int k = 0; base + k < length; k++) {
            if (old.get(BYTE, oo + base + k) != cur.get(BYTE, co + base + k)) {
                b |= 1L << k;
            }
        }
        return b;
    }

    /** One bit per byte of {@code x}, bit k set iff byte k is non-zero. */
    private static long gather(long x) {
        long nz = (((x & LOW7) + LOW7) | x) & HIGH; // bit 7 of each non-zero byte, no carries
        return ((nz >>> 7) * 0x0102040810204080L) >>> 56;
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

    /** The first differing position at or after {@code p}, or {@code length}. */
    private static int mismatchFrom(MemorySegment old, long oo, MemorySegment cur, long co, int p, int length) {
        if (p >= length) {
            return length;
        }
        long m = MemorySegment.mismatch(old, oo + p, oo + length, cur, co + p, co + length);
        return m < 0 ? length : p + (int) m;
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

    /**
     * Copies {@code n >= 8} bytes. Up to 32 bytes move as overlapping longs, which touch only the
     * run's own bytes; longer runs go to {@link MemorySegment#copy}.
     */
    private static void copyAtLeast8(MemorySegment src, long s, MemorySegment dst, long t, int n) {
        if (n <= 16) {
            long a = src.get(LONG, s);
            long b = src.get(LONG, s + n - 8);
            dst.set(LONG, t, a);
            dst.set(LONG, t + n - 8, b);
        } else if (n <= 32) {
            long a = src.get(LONG, s);
            long b = src.get(LONG, s + 8);
            long c = src.get(LONG, s + n - 16);
            long e = src.get(LONG, s + n - 8);
            dst.set(LONG, t, a);
            dst.set(LONG, t + 8, b);
            dst.set(LONG, t + n - 16, c);
            dst.set(LONG, t + n - 8, e);
        } else {
            MemorySegment.copy(src, s, dst, t, n);
        }
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
