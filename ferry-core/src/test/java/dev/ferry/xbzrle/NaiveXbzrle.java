/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

/**
 * A deliberately plain, byte-at-a-time model of QEMU's xbzrle_encode_buffer and
 * xbzrle_decode_buffer (migration/xbzrle.c), written from their semantics, for differential tests:
 * the same checks in the same order, on byte arrays, with no attempt at speed.
 */
final class NaiveXbzrle {
    private NaiveXbzrle() {
    }

    /** Encodes as QEMU does: 0 unchanged, -1 overflow, else the length written to dst. */
    static int encode(byte[] old, byte[] cur, int slen, byte[] dst, int dlen) {
        int d = 0;
        int i = 0;
        while (i < slen) {
            if (d + 2 > dlen) {
                return -1;
            }
            int start = i;
            while (i < slen && old[i] == cur[i]) {
                i++;
            }
            if (i - start == slen) {
                return 0;
            }
            if (i == slen) {
                return d;
            }
            d += putUleb(dst, d, i - start);
            if (d + 2 > dlen) {
                return -1;
            }
            int nz = i;
            while (i < slen && old[i] != cur[i]) {
                i++;
            }
            int n = i - nz;
            d += putUleb(dst, d, n);
            if (d + n > dlen) {
                return -1;
            }
            System.arraycopy(cur, nz, dst, d, n);
            d += n;
        }
        return d;
    }

    /** Decodes as QEMU does: the decoded extent, or -1 for a delta QEMU rejects. */
    static int decode(byte[] src, int slen, byte[] dst, int dlen) {
        int i = 0;
        int d = 0;
        while (i < slen) {
            if (slen - i < 2) {
                return -1;
            }
            long z = getUleb(src, i);
            if (z < 0 || (i != 0 && (z >>> 8) == 0)) {
                return -1;
            }
            i += (int) (z & 0xff);
            d += (int) (z >>> 8);
            if (d > dlen) {
                return -1;
            }
            if (slen - i < 2) {
                return -1;
            }
            long n = getUleb(src, i);
            if (n < 0 || (n >>> 8) == 0) {
                return -1;
            }
            i += (int) (n & 0xff);
            int count = (int) (n >>> 8);
            if (d + count > dlen || i + count > slen) {
                return -1;
            }
            System.arraycopy(src, i, dst, d, count);
            d += count;
            i += count;
        }
        return d;
    }

    private static int putUleb(byte[] dst, int d, int v) {
        if (v < 0x80) {
            dst[d] = (byte) v;
            return 1;
        }
        dst[d] = (byte) (v | 0x80);
        dst[d + 1] = (byte) (v >>> 7);
        return 2;
    }

    /** (value << 8) | bytes used, or -1 if the second byte has its continuation bit. */
    private static long getUleb(byte[] src, int i) {
        int b0 = src[i] & 0xff;
        if (b0 < 0x80) {
            return ((long) b0 << 8) | 1;
        }
        int b1 = src[i + 1] & 0xff;
        if (b1 >= 0x80) {
            return -1;
        }
        return ((long) ((b0 & 0x7f) | (b1 << 7)) << 8) | 2;
    }
}
