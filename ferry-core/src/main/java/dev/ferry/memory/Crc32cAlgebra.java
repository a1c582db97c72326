/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.nio.ByteBuffer;

/**
 * CRC32C put together from pieces, so that a frame of pages is checksummed without a second pass over its bytes.
 *
 * <p>Why: both ends of a migration need the CRC32C of every page (for the RAM digest) and of every frame (for
 * transmission integrity). Hashing each page and then the whole frame again costs a second pass over every byte on
 * each side; on this machine's loopback that pass is some 15% of the CPU a migration uses. A CRC is linear, so the
 * frame's CRC follows from the pages' CRCs and the few header bytes between them.
 *
 * <p>The arithmetic works on the CRC register (reflected, polynomial 0x82F63B78, not conditioned by the initial or
 * final inversion): feeding bytes {@code D} to a register {@code s} gives {@code shift(s, |D|) ^ update(0, D)}, where
 * {@code shift} (feeding zero bytes) is multiplication by {@code x^(8n)} modulo the polynomial. The standard CRC32C
 * of {@code D} is {@code ~update(~0, D)}.
 */
public final class Crc32cAlgebra {
    private static final int POLY = 0x82F63B78;
    /** The polynomial 1 in the reflected representation (x^0 is the top bit). */
    private static final int ONE = 1 << 31;
    private static final int[] BYTE_TABLE = new int[256];
    /** x^(2^i) modulo the polynomial. */
    private static final int[] X2N = new int[64];
    /** Tables for multiplying a register by x^(8 * 4096): one per register byte. */
    private static final int[][] PAGE_SHIFT = new int[4][256];
    /** shift(~0, 4096): turns a page's standard CRC into its register contribution. */
    private static final int PAGE_ONES;

    static {
        for (int n = 0; n < 256; n++) {
            int c = n;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? (c >>> 1) ^ POLY : c >>> 1;
            }
            BYTE_TABLE[n] = c;
        }
        X2N[0] = ONE >>> 1; // x^1
        for (int i = 1; i < X2N.length; i++) {
            X2N[i] = multiply(X2N[i - 1], X2N[i - 1]);
        }
        int pageFactor = powerOfX(8L * Pages.SIZE);
        for (int j = 0; j < 4; j++) {
            for (int v = 0; v < 256; v++) {
                PAGE_SHIFT[j][v] = multiply(pageFactor, v << (8 * j));
            }
        }
        PAGE_ONES = shiftPage(-1);
    }

    private Crc32cAlgebra() {
    }

    /** The register after feeding bytes {@code [from, to)} of {@code buffer} (absolute indices) to register {@code s}. */
    public static int update(int s, ByteBuffer buffer, int from, int to) {
        for (int i = from; i < to; i++) {
            s = BYTE_TABLE[(s ^ buffer.get(i)) & 0xFF] ^ (s >>> 8);
        }
        return s;
    }

    /** The register after feeding {@code n} zero bytes to register {@code s}. */
    public static int shift(int s, long n) {
        if (n < 0 || n > Long.MAX_VALUE / 8) {
            throw new IllegalArgumentException("length out of range: " + n);
        }
        return multiply(powerOfX(8 * n), s);
    }

    /** The register after feeding one page of zero bytes to register {@code s}: four table lookups. */
    public static int shiftPage(int s) {
        return PAGE_SHIFT[0][s & 0xFF] ^ PAGE_SHIFT[1][(s >>> 8) & 0xFF] ^ PAGE_SHIFT[2][(s >>> 16) & 0xFF]
                ^ PAGE_SHIFT[3][s >>> 24];
    }

    /**
     * The register after feeding a page whose standard CRC32C is {@code pageCrc} to register {@code s}: what
     * {@link #update} would give over the page's bytes, without reading them.
     */
    public static int appendPage(int s, int pageCrc) {
        // update(s, P) = shift(s, 4096) ^ update(0, P), and update(0, P) = ~crc(P) ^ shift(~0, 4096).
        return shiftPage(s) ^ ~pageCrc ^ PAGE_ONES;
    }

    /**
     * The standard CRC32C of {@code prefix || rest}, from the register {@code prefixRegister = update(~0, prefix)} and
     * {@code restRegister = update(0, rest)} of a rest of {@code restLength} bytes.
     */
    public static int crc(int prefixRegister, int restRegister, long restLength) {
        return ~(shift(prefixRegister, restLength) ^ restRegister);
    }

    /** a * b modulo the polynomial, reflected. */
    private static int multiply(int a, int b) {
        int product = 0;
        for (int m = ONE; m != 0; m >>>= 1) {
            if ((a & m) != 0) {
                product ^= b;
                if ((a & (m - 1)) == 0) {
                    break;
                }
            }
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
        }
        return product;
    }

    /** x^n modulo the polynomial. */
    private static int powerOfX(long n) {
        int p = ONE;
        for (int k = 0; n != 0; n >>>= 1, k++) {
            if ((n & 1) != 0) {
                p = multiply(X2N[k], p);
            }
        }
        return p;
    }
}
