/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 *
 * xbzrle-make-vectors OUT: write test vectors for Ferry's XBZRLE codec, encoded by the C
 * reference (shared/anchors/xbzrle-c/xbzrle_ref.c, linked in at build time). Deterministic:
 * a fixed xorshift64* generator makes the pages. Format, all integers big-endian int32:
 *   "XBZV", count, then per page pair: slen, old[slen], new[slen], nlimits, and per limit:
 *   dlen, result, encoded[result > 0 ? result : 0]
 * Build and run (from the repository root, shared/ beside it):
 *   gcc -O2 -I../shared/anchors/xbzrle-c -o /tmp/xbzrle-make-vectors scripts/xbzrle-make-vectors.c \
 *       ../shared/anchors/xbzrle-c/xbzrle_ref.c
 *   /tmp/xbzrle-make-vectors ferry-core/src/test/resources/xbzrle/ref-vectors.bin
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xbzrle_ref.h"

#define MAXLEN 4096
static uint64_t s = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return (uint32_t)((s * 2685821657736338717ULL) >> 32); }
static FILE *out;
static int count;
static uint8_t old[MAXLEN], cur[MAXLEN], enc[2 * MAXLEN + 64];

static void be32(int32_t v) { uint8_t b[4] = { (uint8_t)((uint32_t)v >> 24), (uint8_t)((uint32_t)v >> 16), (uint8_t)((uint32_t)v >> 8), (uint8_t)v }; fwrite(b, 1, 4, out); }

/* the pair with every limit around its natural length L: 0, 1, 2, L-2 .. L+2, and a page */
static void limits(int slen) {
    int full = xbzrle_ref_encode(old, cur, slen, enc, sizeof enc);
    int ds[] = { 0, 1, 2, full - 2, full - 1, full, full + 1, full + 2, MAXLEN }, n = 0;
    for (unsigned k = 0; k < sizeof ds / sizeof ds[0]; k++) if (ds[k] >= 0) n++;
    be32(slen); fwrite(old, 1, slen, out); fwrite(cur, 1, slen, out); be32(n);
    for (unsigned k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        if (ds[k] < 0) continue;
        int r = xbzrle_ref_encode(old, cur, slen, enc, ds[k]);
        be32(ds[k]); be32(r);
        if (r > 0) fwrite(enc, 1, r, out);
    }
    count++;
}

static void base_page(int slen) { for (int i = 0; i < slen; i++) old[i] = (i & 1) ? (uint8_t)rnd() : "abcdefgh \n\0\0"[rnd() % 12]; memcpy(cur, old, slen); }
static void flip(int i) { cur[i] ^= (uint8_t)(1 + rnd() % 255); }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUT\n", argv[0]); return 2; }
    out = fopen(argv[1], "wb"); if (!out) { perror(argv[1]); return 2; }
    fwrite("XBZV", 1, 4, out); be32(0); /* count, patched below */
    base_page(4096); limits(4096);                                   /* unchanged */
    base_page(4096); flip(0); limits(4096);                          /* memtest */
    base_page(4096); for (int o = 0; o < 4096; o += 1024) flip(o); limits(4096);   /* sparse-word */
    base_page(4096); flip(4095); limits(4096);                       /* last byte: no trailing zero run */
    base_page(4096); for (int i = 300; i < 500; i++) flip(i); for (int i = 4000; i < 4096; i++) flip(i); limits(4096); /* 2-byte lengths */
    base_page(4096); for (int i = 0; i < 4096; i++) if (rnd() % 4 == 0) flip(i); limits(4096);   /* dense */
    base_page(4096); for (int i = 0; i < 4096; i++) if (rnd() % 100 == 0) flip(i); limits(4096); /* scatter */
    base_page(4096); for (int i = 0; i < 4096; i++) cur[i] = (uint8_t)rnd(); limits(4096);         /* full */
    base_page(4096); for (int i = 0; i < 4096; i++) if (i % 3) flip(i); limits(4096);             /* many runs of 2 */
    base_page(4096); for (int i = 64; i < 4096; i++) flip(i); limits(4096);                        /* one long run */
    int lens[] = { 1, 2, 7, 8, 9, 15, 63, 64, 65, 100, 127, 128, 129, 1000, 4095 };
    for (unsigned k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        int n = lens[k];
        base_page(n); limits(n);
        base_page(n); flip(n - 1); limits(n);
        base_page(n); for (int i = 0; i < n; i++) if (rnd() % 3 == 0) flip(i); limits(n);
        base_page(n); for (int i = 0; i < n; i++) flip(i); limits(n);
    }
    fseek(out, 4, SEEK_SET); be32(count);
    return fclose(out) ? 2 : 0;
}
