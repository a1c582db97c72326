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
            return UNCHANGED;
        }
        // The page is scanned in 64-byte blocks. For the block at 'base' (a multiple of 64), bit k of
        // 'bits' is set iff byte base + k differs; past the end of the page the bits are clear.
        // Run boundaries are then found with numberOfTrailingZeros on the bitmap, in registers:
        // finding them byte- or word-wise makes every run wait for a load of its own.
        int base = 0;
        long bits = blockBits(old, oldOffset, cur, curOffset, 0, length);
        int d = 0;
        int i = 0;
        while (i < length) {
            if (d + 2 > dstLimit) {
                return OVERFLOW;
            }
            // Zero run [i, z).
            long t = bits & (-1L << (i - base)); // i - base is 0..63
            if (t == 0) {
                int p = nextDiff(old, oldOffset, cur, curOffset, base + 64, length);
                if (p == length) {
                    return i == 0 ? UNCHANGED : d; // the trailing zero run is not written
                }
                base = p & ~63;
                bits = blockBits(old, oldOffset, cur, curOffset, base, length);
                t = bits & (-1L << (p - base));
            }
            int z = base + Long.numberOfTrailingZeros(t);
            // Non-zero run [z, e): the byte at z differs.
            t = ~bits & (-1L << (z - base));
            while (t == 0) {
                base += 64;
                if (base >= length) {
                    break;
                }
                bits = blockBits(old, oldOffset, cur, curOffset, base, length);
                t = ~bits;
            }
            int e = t == 0 ? length : base + Long.numberOfTrailingZeros(t);
            int zrun = z - i;
            int n = e - z;
            if ((zrun | n) < 0x80 && n <= 6 && d + 8 <= dstLimit && z + 8 <= length) {
                // Both lengths take one byte and the run fits in the same long: one write. The
                // overflow checks (d + 3 <= dstLimit, d + 2 + n <= dstLimit) hold as d + 8 does.
                dst.set(LONG, dstOffset + d, zrun | (n << 8) | (cur.get(LONG, curOffset + z) << 16));
                d += 2 + n;
            } else {
                d = putLength(dst, dstOffset, d, zrun);
                if (d + 2 > dstLimit) {
                    return OVERFLOW;
                }
                d = putLength(dst, dstOffset, d, n);
                if (d + n > dstLimit) {
                    return OVERFLOW;
                }
                if (n >= 8) {
                    copyAtLeast8(cur, curOffset + z, dst, dstOffset + d, n);
                } else if (z + 8 <= length && d + 8 <= dstLimit) {
                    // The bytes past the run land inside the limit and are overwritten next.
                    dst.set(LONG, dstOffset + d, cur.get(LONG, curOffset + z));
                } else {
                    MemorySegment.copy(cur, curOffset + z, dst, dstOffset + d, n);
                }
                d += n;
            }
            i = e;
        }
        return d;
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

    /**
     * The difference bitmap of the block at {@code base}: bit k set iff byte {@code base + k}
     * differs. A block cut by the end of the page has clear bits past the end.
     */
    private static long blockBits(MemorySegment old, long oo, MemorySegment cur, long co, int base, int length) {
        if (base + 64 > length) {
            return tailBits(old, oo, cur, co, base, length);
        }
        long o = oo + base;
        long c = co + base;
        long b = 0;
        for (int w = 0; w < 64; w += 8) { // unrolled by the JIT; kept short so that it inlines
            b |= gather(old.get(LONG, o + w) ^ cur.get(LONG, c + w)) << w;
        }
        return b;
    }

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
     * The first differing position at or after {@code q} (a multiple of 64), or {@code length}:
     * two blocks by plain reads, then the vectorised mismatch for long equal stretches.
     */
    private static int nextDiff(MemorySegment old, long oo, MemorySegment cur, long co, int q, int length) {
        for (int k = 0; k < 2 && q + 64 <= length; k++, q += 64) {
            long o = oo + q;
            long c = co + q;
            long x = 0;
            for (int w = 0; w < 64; w += 8) {
                x |= old.get(LONG, o + w) ^ cur.get(LONG, c + w);
            }
            if (x != 0) {
                return q; // the caller's bitmap of this block finds the exact byte
            }
        }
        if (q >= length) {
            return length;
        }
        long m = MemorySegment.mismatch(old, oo + q, oo + length, cur, co + q, co + length);
        return m < 0 ? length : q + (int) m;
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
