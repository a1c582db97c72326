/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The disk space a file really takes ({@code st_blocks} x 512), which for a sparse snapshot is far less than its
 * size. The JDK does not report it, so it is read with {@code stat(2)} through the foreign-function API on Linux
 * x86-64 and AArch64 (where {@code st_size} is at byte 48 and {@code st_blocks} at byte 64 of {@code struct stat});
 * elsewhere, or without native access, it is unknown (-1).
 */
public final class FileSpace {
    private static final MethodHandle STAT;
    private static final long SIZE_OFFSET = 48;
    private static final long BLOCKS_OFFSET = 64;

    static {
        MethodHandle stat = null;
        String arch = System.getProperty("os.arch");
        if (System.getProperty("os.name", "").startsWith("Linux") && ("amd64".equals(arch) || "aarch64".equals(arch))) {
            try {
                Linker linker = Linker.nativeLinker();
                stat = linker.defaultLookup().find("stat").map(addr -> linker.downcallHandle(addr,
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS)))
                        .orElse(null);
            } catch (RuntimeException | Error e) {
                stat = null;
            }
        }
        STAT = stat;
    }

    private FileSpace() {
    }

    /** Bytes allocated on disk for {@code file}, or -1 if this platform cannot tell. */
    public static long allocated(Path file) {
        if (STAT == null) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256, 8);
            int rc = (int) STAT.invokeExact(arena.allocateFrom(file.toString()), buf);
            if (rc != 0) {
                return -1;
            }
            long size = buf.get(ValueLayout.JAVA_LONG, SIZE_OFFSET);
            if (size != Files.size(file)) {
                return -1; // not the layout assumed: say nothing rather than something wrong
            }
            return buf.get(ValueLayout.JAVA_LONG, BLOCKS_OFFSET) * 512;
        } catch (IOException e) {
            return -1;
        } catch (Throwable t) {
            return -1;
        }
    }
}
