/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 *
 * What the C diagnostics in scripts/ share: a monotonic clock, reading a corpus of 4 KiB page pairs (the C
 * reference's format: records of old page | new page) into 64-byte-aligned memory, and their command line.
 */
#ifndef FERRY_XBZRLE_PAIRS_H
#define FERRY_XBZRLE_PAIRS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE 4096

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The pairs of PATH, their count in *n; on error prints one line naming the file and exits 2. */
static unsigned char *read_pairs(const char *path, int *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = (int) (size / (2 * PAGE));
    unsigned char *buf = *n > 0 ? aligned_alloc(64, (size_t) *n * 2 * PAGE) : NULL;
    if (!buf || fread(buf, 1, (size_t) *n * 2 * PAGE, f) != (size_t) *n * 2 * PAGE) {
        fprintf(stderr, "%s: not a corpus of page pairs\n", path);
        exit(2);
    }
    fclose(f);
    return buf;
}

/*
 * The command line PAIRS_FILE [SECONDS] of a diagnostic: the pairs, their count in *n, the seconds in *secs
 * (default_secs if not given); on a missing file name prints the usage and exits 2.
 */
static unsigned char *pairs_from_args(int argc, char **argv, double default_secs, int *n, double *secs) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PAIRS_FILE [SECONDS]\n", argv[0]);
        exit(2);
    }
    *secs = argc > 2 ? atof(argv[2]) : default_secs;
    return read_pairs(argv[1], n);
}

#endif
