/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.workload;

import dev.ferry.guest.GuestCheck;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.GuestRam;
import dev.ferry.guest.inprocess.VCpuMemory;
import dev.ferry.memory.Pages;
import dev.ferry.util.Options;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Fills RAM once, then writes nothing: a mix of zero pages (fraction {@code zero}), text-like pages ({@code text})
 * and random pages (the rest), each page's kind and content a function of the seed and its number.
 *
 * <p>Invariant: every page below the fill position holds its generated content, every page above it is zero.
 */
final class Idle extends Workload {
    private static final int PAGES_PER_STEP = 16;
    private static final byte[][] WORDS;
    private static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    static {
        String[] w = ("the of and migration page guest memory dirty round ferry precopy checkpoint standby snapshot "
                + "kernel buffer cache stream socket vcpu bitmap offset zero delta file block state policy copy "
                + "send receive").split(" ");
        WORDS = new byte[w.length][];
        for (int i = 0; i < w.length; i++) {
            WORDS[i] = w[i].getBytes(StandardCharsets.US_ASCII);
        }
    }

    private final double zero;
    private final double text;
    private final Program[] programs;

    Idle(GuestRam ram, int vcpus, long seed, Options o) {
        super(ram, vcpus, seed);
        zero = o.fraction("zero", 0.3);
        text = o.fraction("text", 0.3);
        o.requireAllUsed("zero, text");
        if (zero + text > 1.0 + 1e-9) {
            throw new IllegalArgumentException("idle: zero + text must not exceed 1");
        }
        programs = new Program[vcpus];
        for (int v = 0; v < vcpus; v++) {
            long[] s = share(ram.pages(), v);
            programs[v] = new Program(s[0], s[1]);
        }
    }

    @Override
    public String name() {
        return "idle";
    }

    @Override
    public VCpuProgram program(int vcpu) {
        return programs[vcpu];
    }

    /** Writes the content of guest page {@code page} into {@code out}; returns false for a zero page. */
    boolean generate(long page, byte[] out) {
        long h = Mix.mix(seed ^ Mix.mix(page));
        double u = Mix.unit(h);
        if (u < zero) {
            return false;
        }
        long r = Mix.mix(h + 1);
        if (u < zero + text) {
            int i = 0;
            int line = 0;
            while (i < Pages.SIZE) {
                r += Mix.GOLDEN;
                long z = Mix.mix(r);
                byte[] word = WORDS[(int) Mix.below(z, WORDS.length)];
                int n = Math.min(word.length, Pages.SIZE - i);
                System.arraycopy(word, 0, out, i, n);
                i += n;
                line += n;
                if (i < Pages.SIZE) {
                    boolean newline = line > 60 + (int) (z >>> 60);
                    out[i++] = (byte) (newline ? '\n' : ' ');
                    line = newline ? 0 : line + 1;
                }
            }
        } else {
            for (int i = 0; i < Pages.SIZE; i += 8) {
                r += Mix.GOLDEN;
                LONGS.set(out, i, Mix.mix(r));
            }
        }
        return true;
    }

    @Override
    public GuestCheck check() {
        byte[] expectedBytes = new byte[Pages.SIZE];
        MemorySegment expected = MemorySegment.ofArray(expectedBytes);
        for (int v = 0; v < programs.length; v++) {
            Program p = programs[v];
            for (long page = p.lo; page < p.hi; page++) {
                long gpa = page << Pages.SHIFT;
                int b = ram.blockOf(gpa);
                MemorySegment mem = ram.blocks().get(b).memory();
                long off = gpa - ram.blockStart(b);
                boolean filled = page < p.pos && generate(page, expectedBytes);
                long mismatch = filled
                        ? MemorySegment.mismatch(mem, off, off + Pages.SIZE, expected, 0, Pages.SIZE)
                        : (Pages.isZero(mem, off) ? -1 : 0);
                if (mismatch >= 0) {
                    return GuestCheck.fail("idle: page at " + hex(gpa) + " differs from its "
                            + (filled ? "generated content" : "expected zeros") + " at byte " + mismatch);
                }
            }
        }
        return GuestCheck.pass("idle: all " + ram.pages() + " pages hold their generated content");
    }

    @Override
    public Map<String, Object> counters() {
        long filled = 0;
        for (Program p : programs) {
            filled += p.filledDone - p.lo;
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("filled-pages", filled);
        c.put("fill-complete", filled == ram.pages());
        return c;
    }

    private final class Program implements VCpuProgram {
        final long lo;
        final long hi;
        final byte[] scratchBytes = new byte[Pages.SIZE];
        final MemorySegment scratch = MemorySegment.ofArray(scratchBytes);
        long pos;
        volatile long filledDone;

        Program(long lo, long hi) {
            this.lo = lo;
            this.hi = hi;
            this.pos = lo;
            this.filledDone = lo;
        }

        @Override
        public void step(VCpuMemory memory) {
            if (pos == hi) {
                // Filled: nothing more to do. Sleep; a pause request wakes the vCPU.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                return;
            }
            for (int k = 0; k < PAGES_PER_STEP && pos < hi; k++, pos++) {
                if (generate(pos, scratchBytes)) {
                    memory.putPage(pos << Pages.SHIFT, scratch);
                }
            }
            filledDone = pos;
        }

        @Override
        public void save(StateWriter out) {
            out.putLong(pos);
        }

        @Override
        public void load(StateReader in) throws GuestException {
            pos = in.getLong("idle fill position", lo, hi);
            filledDone = pos;
        }
    }
}
