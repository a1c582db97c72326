/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes a guest's raw RAM, all blocks in order, to a file: the {@code --dump-ram} format. */
public final class RamDump {
    private static final long CHUNK = 64L << 20;

    private RamDump() {
    }

    public static void write(Guest guest, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (RamBlock b : guest.ramBlocks()) {
                MemorySegment m = b.memory();
                for (long off = 0; off < b.length(); off += CHUNK) {
                    ByteBuffer buf = m.asSlice(off, Math.min(CHUNK, b.length() - off)).asByteBuffer();
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            }
        }
    }
}
