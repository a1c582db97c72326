/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import java.io.IOException;

/**
 * A stream or file that is not a valid Ferry stream: the {@link Problem} says what kind of damage, the message
 * says what and where (byte offset, frame number and type).
 */
public class StreamFormatException extends IOException {
    /** The kinds of damage, one test each. */
    public enum Problem {
        BAD_MAGIC,
        UNSUPPORTED_VERSION,
        BAD_CHECKSUM,
        TRUNCATED,
        FRAME_TOO_LARGE,
        UNKNOWN_FRAME_TYPE,
        UNEXPECTED_FRAME,
        MALFORMED_PAYLOAD,
        OUT_OF_RANGE,
        IMPOSSIBLE_SIZE,
        INCOMPLETE,
        DIGEST_MISMATCH,
        TRAILING_DATA
    }

    private final Problem problem;
    private final long offset;

    public StreamFormatException(Problem problem, long offset, String message) {
        super(message);
        this.problem = problem;
        this.offset = offset;
    }

    public Problem problem() {
        return problem;
    }

    /** Byte offset in the stream where the damage was found, or -1. */
    public long offset() {
        return offset;
    }
}
