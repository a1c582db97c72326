/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 *
 * xbzrle-ref-dump PAIRS OUT [DLEN]: encode every old|new 4 KiB page pair of PAIRS with the C
 * reference codec (shared/anchors/xbzrle-c/xbzrle_ref.c, linked in at build time) and write, per
 * pair, a big-endian int32 length (-1 overflow, 0 unchanged) followed by the encoded bytes: the
 * format of `ferry bench xbzrle --write-encodings`. DLEN (default 4096) is the output limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "xbzrle_ref.h"

#define PAGE 4096

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s PAIRS OUT [DLEN]\n", argv[0]); return 2; }
    int dlen = argc > 3 ? atoi(argv[3]) : PAGE;
    FILE *in = fopen(argv[1], "rb"); if (!in) { perror(argv[1]); return 2; }
    FILE *out = fopen(argv[2], "wb"); if (!out) { perror(argv[2]); return 2; }
    static uint8_t pair[2 * PAGE], enc[4 * PAGE];
    if (dlen < 0 || dlen > (int)sizeof enc) { fprintf(stderr, "bad DLEN\n"); return 2; }
    while (fread(pair, 1, sizeof pair, in) == sizeof pair) {
        int n = xbzrle_ref_encode(pair, pair + PAGE, PAGE, enc, dlen);
        uint8_t be[4] = { (uint8_t)((uint32_t)n >> 24), (uint8_t)((uint32_t)n >> 16),
                          (uint8_t)((uint32_t)n >> 8), (uint8_t)n };
        fwrite(be, 1, 4, out);
        if (n > 0) fwrite(enc, 1, (size_t)n, out);
    }
    return fclose(out) ? 2 : 0;
}
