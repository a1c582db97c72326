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
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Seed 001's load generator: a 16 MiB buffer in which one byte in every 1024 is incremented, pass after pass,
 * forever ({@code buf[i * 4096 / 4]++} for i below 4096 * 4). Every page of the buffer is rewritten every pass,
 * four bytes at a time: the case XBZRLE was made for.
 *
 * <p>Invariant: each counted byte before the writer holds {@code pass + 1}, from the writer on {@code pass}
 * (mod 256); every other byte of RAM is zero.
 */
final class SeedLoad extends Workload {
    static final int STRIDE = 1024;
    static final long BUFFER = 16L << 20;
    private static final int INCREMENTS_PER_STEP = 256;

    private final long at;
    private final Program[] programs;

    SeedLoad(GuestRam ram, int vcpus, long seed, Options o) {
        super(ram, vcpus, seed);
        at = o.size("at", 0);
        o.requireAllUsed("at");
        if ((at & (Pages.SIZE - 1)) != 0 || at < 0 || at + BUFFER > ram.size()) {
            throw new IllegalArgumentException("seed workload needs a page-aligned 16 MiB buffer inside guest RAM"
                    + " of " + ram.size() + " bytes, at=" + at);
        }
        long slots = BUFFER / STRIDE;
        programs = new Program[vcpus];
        for (int v = 0; v < vcpus; v++) {
            long[] s = share(slots, v);
            programs[v] = new Program(s[0], s[1]);
        }
    }

    @Override
    public String name() {
        return "seed";
    }

    @Override
    public VCpuProgram program(int vcpu) {
        return programs[vcpu];
    }

    @Override
    public GuestCheck check() {
        GuestCheck outside = checkZeroOutside(at, at + BUFFER);
        if (outside != null) {
            return outside;
        }
        for (int v = 0; v < programs.length; v++) {
            Program p = programs[v];
            for (long i = p.lo; i < p.hi; i++) {
                long gpa = at + i * STRIDE;
                int expected = (int) ((p.pass + (i < p.pos ? 1 : 0)) & 0xff);
                int actual = ram.readByte(gpa) & 0xff;
                if (actual != expected) {
                    return GuestCheck.fail("seed: byte at " + hex(gpa) + " holds " + actual + ", expected " + expected
                            + " (vCPU " + v + " writer at index " + p.pos + " in pass " + p.pass + ")");
                }
                long page = gpa & -Pages.SIZE;
                int in = (int) (gpa - page);
                long bad = nonZeroWithin(page, in + 1, in + STRIDE);
                if (bad >= 0) {
                    return GuestCheck.fail("seed: byte " + bad + " of page " + hex(page) + " is not zero");
                }
            }
        }
        return GuestCheck.pass("seed: " + BUFFER / STRIDE + " counters in 16 MiB at " + hex(at)
                + " consistent with the writers' positions; the rest of RAM is zero");
    }

    @Override
    public Map<String, Object> counters() {
        long minPass = Long.MAX_VALUE;
        long increments = 0;
        for (Program p : programs) {
            minPass = Math.min(minPass, p.passesDone);
            increments += p.incrementsDone;
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("passes", minPass);
        c.put("increments", increments);
        return c;
    }

    private final class Program implements VCpuProgram {
        final long lo;
        final long hi;
        long pos;
        long pass;
        long increments;
        volatile long passesDone;
        volatile long incrementsDone;

        Program(long lo, long hi) {
            this.lo = lo;
            this.hi = hi;
            this.pos = lo;
        }

        @Override
        public void step(VCpuMemory memory) {
            for (int k = 0; k < INCREMENTS_PER_STEP; k++) {
                memory.incrementByte(at + pos * STRIDE);
                if (++pos == hi) {
                    pos = lo;
                    pass++;
                }
            }
            increments += INCREMENTS_PER_STEP;
            passesDone = pass;
            incrementsDone = increments;
        }

        @Override
        public void save(StateWriter out) {
            out.putLong(pos).putLong(pass).putLong(increments);
        }

        @Override
        public void load(StateReader in) throws GuestException {
            pos = in.getLong("seed writer index", lo, hi - 1);
            pass = in.getLong("seed pass", 0, Long.MAX_VALUE);
            increments = in.getLong("seed increments", 0, Long.MAX_VALUE);
            passesDone = pass;
            incrementsDone = increments;
        }
    }
}
