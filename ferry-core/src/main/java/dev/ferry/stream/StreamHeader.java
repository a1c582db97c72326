/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.stream.StreamFormatException.Problem;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** The 16-byte header that opens each direction of a stream. */
public final class StreamHeader {
    private StreamHeader() {
    }

    public static ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(StreamFormat.HEADER_SIZE);
        b.putLong(StreamFormat.MAGIC).putShort((short) StreamFormat.VERSION).putShort((short) 0);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 12);
        b.putInt((int) crc.getValue());
        return b.flip();
    }

    /** Checks a header; {@code what} names the stream in messages ("migration stream from 10.0.0.1:4444"). */
    public static void check(ByteBuffer b, String what) throws StreamFormatException {
        long magic = b.getLong(0);
        if (magic != StreamFormat.MAGIC) {
            throw new StreamFormatException(Problem.BAD_MAGIC, 0, what + " is not a Ferry stream: bad magic 0x"
                    + Long.toHexString(magic) + " at byte 0 (expected \"FERRYMIG\")");
        }
        int version = Short.toUnsignedInt(b.getShort(8));
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(12));
        int stored = b.getInt(12);
        if (stored != (int) crc.getValue()) {
            throw new StreamFormatException(Problem.BAD_CHECKSUM, 12, what + ": stream header checksum mismatch at"
                    + " byte 12 (stored 0x" + Integer.toHexString(stored) + ", computed 0x"
                    + Integer.toHexString((int) crc.getValue()) + ")");
        }
        if (version != StreamFormat.VERSION) {
            throw new StreamFormatException(Problem.UNSUPPORTED_VERSION, 8, what + ": stream version " + version
                    + " is not supported (this Ferry reads version " + StreamFormat.VERSION + ")");
        }
        int flags = Short.toUnsignedInt(b.getShort(10));
        if (flags != 0) {
            throw new StreamFormatException(Problem.MALFORMED_PAYLOAD, 10, what + ": unknown stream header flags 0x"
                    + Integer.toHexString(flags) + " at byte 10");
        }
    }
}
