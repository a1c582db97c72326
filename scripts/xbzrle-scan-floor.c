/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 *
 * The least work any XBZRLE encoder does on a page pair: one AVX2 pass that XORs the two pages and ORs the
 * results (enough to tell an unchanged page, nothing more). Its speed on a corpus of the C reference bounds what
 * an encoder can reach there. Not part of Ferry: scripts/xbzrle-compare.sh runs it beside the codecs ("bare
 * read"), and by hand:
 *   gcc -O3 -march=native -o /tmp/xbzrle-scan-floor scripts/xbzrle-scan-floor.c
 *   /tmp/xbzrle-scan-floor /tmp/xbzrle-pairs/sparse-word.bin [SECONDS]
 */
#include <immintrin.h>
#include <stdint.h>
#include "xbzrle-pairs.h"

int main(int argc, char **argv) {
    int n;
    double secs;
    unsigned char *buf = pairs_from_args(argc, argv, 2.0, &n, &secs);
    volatile uint64_t sink = 0;
    long reps = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < n; i++) {
            const __m256i *a = (const __m256i *) (buf + 2L * i * PAGE), *b = (const __m256i *) (buf + (2L * i + 1) * PAGE);
            __m256i acc = _mm256_setzero_si256();
            for (int k = 0; k < PAGE / 32; k++) {
                acc = _mm256_or_si256(acc, _mm256_xor_si256(_mm256_load_si256(a + k), _mm256_load_si256(b + k)));
            }
            sink += (uint32_t) _mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, _mm256_setzero_si256()));
        }
        reps++;
    } while ((t = now()) - t0 < secs);
    printf("pairs=%d scan_MBps=%.0f\n", n, (double) reps * n * PAGE / (t - t0) / 1e6);
    return 0;
}
