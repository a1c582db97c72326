/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Guest RAM as anonymous, lazily zeroed memory ({@code mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)}).
 *
 * <p>Why not {@code Arena.allocate}: it zeroes (touches) every byte up front, so a 4 GiB guest would cost seconds
 * and 4 GiB of resident memory before it ran; a destination receiving mostly zero pages would pay the same. Pages
 * of an anonymous mapping cost nothing until written. When native access is not available (no
 * {@code --enable-native-access}) Ferry falls back to {@code Arena.allocate}.
 */
public final class AnonymousMemory {
    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MADV_HUGEPAGE = 14;
    /**
     * Transparent huge pages for guest RAM (on unless {@code -Dferry.hugepages=false}): measured here, first writes to
     * 1 GiB of fresh memory took 480 ms in 4 KiB pages and 50 ms in 2 MiB pages, and whole-RAM scans take fewer TLB
     * misses.
     */
    private static final boolean HUGE_PAGES = !"false".equals(System.getProperty("ferry.hugepages"));

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;
    private static final StructLayout CAPTURE;
    private static final VarHandle ERRNO;
    private static final MethodHandle STRERROR;

    static {
        MethodHandle mmap = null;
        MethodHandle munmap = null;
        MethodHandle madvise = null;
        MethodHandle strerror = null;
        StructLayout capture = null;
        VarHandle errno = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            capture = Linker.Option.captureStateLayout();
            errno = capture.varHandle(MemoryLayout.PathElement.groupElement("errno"));
            mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                    Linker.Option.captureCallState("errno"));
            munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT));
            strerror = linker.downcallHandle(libc.find("strerror").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        } catch (RuntimeException | Error e) {
            mmap = null; // no native access: fall back to the arena
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
        STRERROR = strerror;
        CAPTURE = capture;
        ERRNO = errno;
    }

    private static final int MADV_POPULATE_WRITE = 23;
    /** Memory mapped and faulted in ahead of time by {@link #preallocate}, handed out once by {@link #map}. */
    private static final java.util.List<MemorySegment> PREALLOCATED = new java.util.ArrayList<>();

    private AnonymousMemory() {
    }

    /**
     * Maps {@code size} bytes now and faults every page in (in parallel), so that a guest created later in this
     * process (a migration destination) starts with memory the kernel (and, on a virtual machine, the host) has
     * already backed: QEMU's {@code -mem-prealloc}. The next {@link #map} calls of at most this size take it.
     */
    public static synchronized void preallocate(long size, int threads) {
        MemorySegment region = map(size, Arena.global());
        long chunk = Math.max(Pages.SIZE, (size / threads + Pages.SIZE - 1) & -Pages.SIZE);
        java.util.List<Thread> workers = new java.util.ArrayList<>();
        for (long from = 0; from < size; from += chunk) {
            MemorySegment part = region.asSlice(from, Math.min(chunk, size - from));
            workers.add(Thread.ofPlatform().start(() -> populate(part)));
        }
        for (Thread t : workers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while preallocating memory");
            }
        }
        PREALLOCATED.add(region);
    }

    private static void populate(MemorySegment part) {
        int rc = -1;
        if (MADVISE != null) {
            try {
                rc = (int) MADVISE.invokeExact(part, part.byteSize(), MADV_POPULATE_WRITE);
            } catch (Throwable t) {
                rc = -1;
            }
        }
        if (rc != 0) {
            // Kernels before 5.14 lack MADV_POPULATE_WRITE: touch each page (a zero store keeps it zero).
            for (long o = 0; o < part.byteSize(); o += Pages.SIZE) {
                part.set(ValueLayout.JAVA_BYTE, o, (byte) 0);
            }
        }
    }

    private static synchronized MemorySegment takePreallocated(long size) {
        for (int i = 0; i < PREALLOCATED.size(); i++) {
            MemorySegment r = PREALLOCATED.get(i);
            if (r.byteSize() >= size) {
                PREALLOCATED.set(i, r.asSlice(size));
                if (PREALLOCATED.get(i).byteSize() == 0) {
                    PREALLOCATED.remove(i);
                }
                return r.asSlice(0, size);
            }
        }
        return null;
    }

    /**
     * Maps {@code size} bytes of zeroed memory, page aligned, released when {@code arena} closes.
     *
     * @throws OutOfMemoryError with a one-line reason when the mapping is refused
     */
    public static MemorySegment map(long size, Arena arena) {
        requirePageMultiple(size);
        MemorySegment pre = takePreallocated(size);
        if (pre != null) {
            return pre;
        }
        return mapFresh(size, arena, "guest memory");
    }

    /**
     * Maps {@code size} bytes of zeroed memory that costs nothing until written (without native access: an
     * {@code Arena.allocate}, zeroed up front), never memory set aside by {@link #preallocate} (that is the guest's):
     * for buffers that may stay partly unused, such as the XBZRLE cache. {@code what} names the memory in the error.
     *
     * @throws OutOfMemoryError with a one-line reason when the mapping is refused
     */
    public static MemorySegment mapLazily(long size, Arena arena, String what) {
        requirePageMultiple(size);
        return mapFresh(size, arena, what);
    }

    private static void requirePageMultiple(long size) {
        if (size <= 0 || (size & (Pages.SIZE - 1)) != 0) {
            throw new IllegalArgumentException("memory size must be a positive multiple of 4 KiB: " + size);
        }
    }

    private static MemorySegment mapFresh(long size, Arena arena, String what) {
        if (MMAP == null) {
            return arena.allocate(size, Pages.SIZE);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment state = scratch.allocate(CAPTURE);
            MemorySegment address = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, size,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (address.address() == -1L) {
                int errno = (int) ERRNO.get(state, 0L);
                throw new OutOfMemoryError("cannot map " + size + " bytes of " + what + ": " + strerror(errno));
            }
            if (HUGE_PAGES) {
                int ignored = (int) MADVISE.invokeExact(address, size, MADV_HUGEPAGE);
            }
            return address.reinterpret(size, arena, AnonymousMemory::unmap);
        } catch (OutOfMemoryError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mmap failed", t);
        }
    }

    private static void unmap(MemorySegment segment) {
        try {
            int ignored = (int) MUNMAP.invokeExact(segment, segment.byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }

    private static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
