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

    /** Equal stretches longer than this many bytes go to the vectorised mismatch. */
    private static final int SCALAR_ZERO_SCAN = 64;

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

        int d = 0;
        int i = 0;
        while (i < length) {
            if (d + 2 > dstLimit) {
                return OVERFLOW;
            }
            int z = nextDiff(old, oldOffset, cur, curOffset, i, length);
            if (z == length) {
                return i == 0 ? UNCHANGED : d; // the trailing zero run is not written
            }
            d = putLength(dst, dstOffset, d, z - i);
            if (d + 2 > dstLimit) {
                return OVERFLOW;
            }
            int e = nextEqual(old, oldOffset, cur, curOffset, z, length);
            int n = e - z;
            d = putLength(dst, dstOffset, d, n);
            if (d + n > dstLimit) {
                return OVERFLOW;
            }
            if (n <= 8 && z + 8 <= length && d + 8 <= dstLimit) {
                // One long: the bytes past the run land inside the limit and are overwritten next.
                dst.set(LONG, dstOffset + d, cur.get(LONG, curOffset + z));
            } else {
                MemorySegment.copy(cur, curOffset + z, dst, dstOffset + d, n);
            }
            d += n;
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
        int i = 0;
        int d = 0;
        // Fast path: while a whole long of the delta is left, parse both lengths out of one read.
        while (i + 8 <= end) {
            long w = delta.get(LONG, off + i);
            int b = (int) w & 0xff;
            int z;
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
                throw new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_ZERO_RUN, i, "");
            }
            d += z;
            if (d > pageLength) {
                throw pastEnd(i, "zero run of " + z + " bytes ends at page offset " + d, pageLength);
            }
            // i + k + 2 <= i + 4 <= end: the two-bytes-left check for the second length holds.
            int j = i + k;
            long w2 = w >>> (k << 3);
            b = (int) w2 & 0xff;
            int n;
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
                throw new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_NONZERO_RUN, j, "");
            }
            int data = j + k;
            checkNonZeroRun(j, data, n, d, pageLength, end);
            int used = data - i; // header bytes taken from w
            if (n <= 8 - used && d + 8 <= pageLength) {
                // The run's bytes are already in w: merge them into the page with one long write.
                long mask = (1L << (n << 3)) - 1;
                long p = page.get(LONG, pageOffset + d);
                page.set(LONG, pageOffset + d, (p & ~mask) | ((w >>> (used << 3)) & mask));
            } else {
                copyRun(delta, off + data, end - data, page, pageOffset + d, pageLength - d, n);
            }
            d += n;
            i = data + n;
        }
        // Tail: fewer than 8 bytes left, byte by byte with the same checks.
        while (i < end) {
            if (end - i < 2) {
                throw truncatedLength(i, end);
            }
            int b = delta.get(BYTE, off + i) & 0xff;
            int z;
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
                throw new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_ZERO_RUN, i, "");
            }
            d += z;
            if (d > pageLength) {
                throw pastEnd(i, "zero run of " + z + " bytes ends at page offset " + d, pageLength);
            }
            int j = i + k;
            if (end - j < 2) {
                throw truncatedLength(j, end);
            }
            b = delta.get(BYTE, off + j) & 0xff;
            int n;
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
                throw new XbzrleFormatException(XbzrleFormatException.Reason.EMPTY_NONZERO_RUN, j, "");
            }
            int data = j + k;
            checkNonZeroRun(j, data, n, d, pageLength, end);
            MemorySegment.copy(delta, off + data, page, pageOffset + d, n);
            d += n;
            i = data + n;
        }
        return d;
    }

    // ---------------------------------------------------------------------------------------------
    // Encoder helpers

    /** Index of the first byte at or after {@code i} where the pages differ, or {@code length}. */
    private static int nextDiff(MemorySegment old, long oo, MemorySegment cur, long co, int i, int length) {
        int p = i;
        int scalarEnd = Math.min(length - 8, i + SCALAR_ZERO_SCAN);
        // Short equal stretches (the common case in dense deltas): one long at a time.
        while (p <= scalarEnd) {
            long x = old.get(LONG, oo + p) ^ cur.get(LONG, co + p);
            if (x != 0) {
                return p + (Long.numberOfTrailingZeros(x) >>> 3);
            }
            p += 8;
        }
        if (p + 8 <= length) {
            // A long equal stretch: the vectorised intrinsic.
            long m = MemorySegment.mismatch(old, oo + p, oo + length, cur, co + p, co + length);
            return m < 0 ? length : p + (int) m;
        }
        while (p < length && old.get(BYTE, oo + p) == cur.get(BYTE, co + p)) {
            p++;
        }
        return p;
    }

    /** Index of the first byte at or after {@code z} where the pages are equal, or {@code length}. */
    private static int nextEqual(MemorySegment old, long oo, MemorySegment cur, long co, int z, int length) {
        int p = z;
        // Four longs at a time while no byte in them is equal (long non-zero runs).
        if (p + 8 <= length) {
            long x = old.get(LONG, oo + p) ^ cur.get(LONG, co + p);
            long eq = zeroBytes(x);
            if (eq != 0) {
                return p + (Long.numberOfTrailingZeros(eq) >>> 3);
            }
            p += 8;
            while (p + 32 <= length) {
                long e0 = zeroBytes(old.get(LONG, oo + p) ^ cur.get(LONG, co + p));
                long e1 = zeroBytes(old.get(LONG, oo + p + 8) ^ cur.get(LONG, co + p + 8));
                long e2 = zeroBytes(old.get(LONG, oo + p + 16) ^ cur.get(LONG, co + p + 16));
                long e3 = zeroBytes(old.get(LONG, oo + p + 24) ^ cur.get(LONG, co + p + 24));
                if ((e0 | e1 | e2 | e3) != 0) {
                    if (e0 != 0) {
                        return p + (Long.numberOfTrailingZeros(e0) >>> 3);
                    }
                    if (e1 != 0) {
                        return p + 8 + (Long.numberOfTrailingZeros(e1) >>> 3);
                    }
                    if (e2 != 0) {
                        return p + 16 + (Long.numberOfTrailingZeros(e2) >>> 3);
                    }
                    return p + 24 + (Long.numberOfTrailingZeros(e3) >>> 3);
                }
                p += 32;
            }
            while (p + 8 <= length) {
                eq = zeroBytes(old.get(LONG, oo + p) ^ cur.get(LONG, co + p));
                if (eq != 0) {
                    return p + (Long.numberOfTrailingZeros(eq) >>> 3);
                }
                p += 8;
            }
        }
        while (p < length && old.get(BYTE, oo + p) != cur.get(BYTE, co + p)) {
            p++;
        }
        return p;
    }

    /** Bit 7 of each byte of the result is set iff that byte of {@code x} is zero (exact, no carries). */
    private static long zeroBytes(long x) {
        return ~(((x & LOW7) + LOW7) | x) & HIGH;
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
     * Copies {@code n} bytes; {@code srcRoom}/{@code dstRoom} are how many bytes may be read/written
     * from the two positions. A short run moves as one 8-byte read-modify-write that leaves the
     * bytes after it as they were.
     */
    private static void copyRun(MemorySegment src, long s, int srcRoom, MemorySegment dst, long t, int dstRoom,
                                int n) {
        if (n <= 8 && srcRoom >= 8 && dstRoom >= 8) {
            if (n == 8) {
                dst.set(LONG, t, src.get(LONG, s));
            } else {
                long mask = (1L << (n << 3)) - 1;
                long keep = dst.get(LONG, t) & ~mask;
                dst.set(LONG, t, keep | (src.get(LONG, s) & mask));
            }
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
