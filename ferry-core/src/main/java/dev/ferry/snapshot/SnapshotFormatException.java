/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import java.io.IOException;

/**
 * A snapshot file that cannot be restored: the {@link Problem} says what kind of damage, the message names the file,
 * the field and the byte offset where it was found. The same style as the migration stream's
 * {@link dev.ferry.stream.StreamFormatException}; one test per problem in {@code MappedRamFormatTest}.
 */
public class SnapshotFormatException extends IOException {
    /** The kinds of damage. */
    public enum Problem {
        /** Not a Ferry snapshot: the first eight bytes are not a known magic. */
        BAD_MAGIC,
        /** A version this Ferry does not read. */
        UNSUPPORTED_VERSION,
        /** A stored CRC32C (header, footer, metadata) does not match the bytes. */
        BAD_CHECKSUM,
        /** The file ends before a structure it must hold (shorter than a header). */
        TRUNCATED,
        /** The save did not finish: no footer, or a footer without its complete marker. */
        INCOMPLETE,
        /** An offset or a region lies outside the file, outside its section, or overlaps another. */
        OUT_OF_RANGE,
        /** A count or a length beyond the format's fixed limits. */
        IMPOSSIBLE_SIZE,
        /** A field that is inconsistent with the others (reserved bits, lengths that disagree, bad text). */
        MALFORMED,
        /** A page area not aligned as the format requires. */
        MISALIGNED,
        /** The RAM read back does not hash to the digest the save recorded. */
        DIGEST_MISMATCH
    }

    private final Problem problem;
    private final long offset;

    public SnapshotFormatException(Problem problem, long offset, String message) {
        super(message);
        this.problem = problem;
        this.offset = offset;
    }

    public Problem problem() {
        return problem;
    }

    /** Byte offset in the file where the damage was found, or -1. */
    public long offset() {
        return offset;
    }
}
