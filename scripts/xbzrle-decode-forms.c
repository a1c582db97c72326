/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 *
 * Three forms of an XBZRLE decode loop in C, timed as the C reference's bench times its decoder (every encoded
 * pair of a corpus decoded into one scratch page, over and over), to tell what costs time in the form itself, away
 * from the JIT: the C reference's decoder (shared/anchors/xbzrle-c, linked in), the form Ferry's decoder had until
 * 2026-12-02 (both lengths out of one 8-byte read, the run's bytes merged into the page by an 8-byte
 * read-modify-write), and the form it has since (the same read, the run's bytes stored exactly). Not part of
 * Ferry; a diagnostic for docs/benchmarks.md:
 *   gcc -O3 -march=native -I../shared/anchors/xbzrle-c -o /tmp/xbzrle-decode-forms \
 *       scripts/xbzrle-decode-forms.c ../shared/anchors/xbzrle-c/xbzrle_ref.c
 *   /tmp/xbzrle-decode-forms /tmp/xbzrle-pairs/sparse-word.bin [SECONDS]
 * Only deltas of runs of at most 6 bytes with lengths of one or two bytes take the two Ferry forms (the corpora
 * sparse-word and memtest); on any other delta they stop with an error.
 */
#include <stdint.h>
#include <string.h>
#include "xbzrle-pairs.h"
#include "xbzrle_ref.h"

/* One 8-byte read gives both lengths and the run's bytes; returns the extent, or -1 for what the form does not take. */
static int __attribute__((noinline)) merged(const uint8_t *src, int slen, uint8_t *dst, int dlen) {
    int i = 0, d = 0;
    while (i < slen) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        int k = (w >> 7) & 1; /* the zero-run length takes 1 + k bytes */
        int z = (w & 0x7f) | ((w >> 1) & 0x3f80 & -k);
        uint64_t rest = w >> (8 << k);
        int n = rest & 0xff, h = 2 + k, at = d + z;
        if (((w >> 15) & k) || n == 0 || n > 8 - h || (z == 0 && i) || slen - i < h + n || at > dlen - 8) {
            return -1;
        }
        uint64_t mask = (1ULL << (n * 8)) - 1, p;
        memcpy(&p, dst + at, 8); /* the page's 8 bytes, merged with the run's and written back */
        p = (p & ~mask) | ((rest >> 8) & mask);
        memcpy(dst + at, &p, 8);
        d = at + n;
        i += h + n;
    }
    return d;
}

/* The same read; the run's bytes stored as they are, one, two or four at a time. */
static int __attribute__((noinline)) exact(const uint8_t *src, int slen, uint8_t *dst, int dlen) {
    int i = 0, d = 0;
    while (i < slen) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        uint32_t lo = (uint32_t) w;
        int z, n, h;
        uint64_t bytes;
        if (!(lo & 0x80)) {
            z = lo & 0x7f; n = (lo >> 8) & 0xff; h = 2; bytes = w >> 16;
        } else {
            if (lo & 0x8000) {
                return -1;
            }
            z = (lo & 0x7f) | ((lo >> 1) & 0x3f80); n = (lo >> 16) & 0xff; h = 3; bytes = w >> 24;
        }
        int at = d + z;
        if ((z == 0 && i) || n == 0 || n > 8 - h || slen - i < h + n || at > dlen - n) {
            return -1;
        }
        uint8_t *to = dst + at;
        if (n == 1) {
            *to = (uint8_t) bytes;
        } else if (n <= 3) {
            uint16_t a = bytes, b = bytes >> ((n - 2) * 8);
            memcpy(to, &a, 2);
            memcpy(to + n - 2, &b, 2);
        } else {
            uint32_t a = bytes, b = bytes >> ((n - 4) * 8);
            memcpy(to, &a, 4);
            memcpy(to + n - 4, &b, 4);
        }
        d = at + n;
        i += h + n;
    }
    return d;
}

typedef int (*decoder)(const uint8_t *, int, uint8_t *, int);

int main(int argc, char **argv) {
    int n;
    double secs;
    uint8_t *buf = pairs_from_args(argc, argv, 1.0, &n, &secs), *enc = aligned_alloc(64, (size_t) n * PAGE + 64);
    uint8_t *out = aligned_alloc(64, PAGE);
    int *len = malloc(sizeof(int) * n);
    if (!enc || !out || !len) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        len[i] = xbzrle_ref_encode(buf + 2L * i * PAGE, buf + (2L * i + 1) * PAGE, PAGE, enc + (long) i * PAGE, PAGE);
    }
    decoder forms[] = {xbzrle_ref_decode, merged, exact};
    const char *names[] = {"reference", "read-modify-write", "exact-stores"};
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < n; i++) {
            if (len[i] <= 0) {
                continue;
            }
            memcpy(out, buf + 2L * i * PAGE, PAGE);
            if (forms[v](enc + (long) i * PAGE, len[i], out, PAGE) < 0 || memcmp(out, buf + (2L * i + 1) * PAGE, PAGE)) {
                fprintf(stderr, "%s: pair %d is not decoded by this form\n", names[v], i);
                return 1;
            }
        }
        volatile long sink = 0;
        long reps = 0, calls = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < n; i++) {
                if (len[i] > 0) {
                    sink += forms[v](enc + (long) i * PAGE, len[i], out, PAGE);
                    calls++;
                }
            }
            reps++;
        } while ((t = now()) - t0 < secs);
        printf("%-17s decode_MBps=%.0f ns_per_page=%.2f\n", names[v], calls * (double) PAGE / (t - t0) / 1e6,
               (t - t0) / calls * 1e9);
    }
    return 0;
}
