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
 * QEMU's migration-test guest: increments the first byte of every page of a range (default 1 MiB to 100 MiB), pass
 * after pass. With several vCPUs each sweeps its own part of the range.
 *
 * <p>Invariant: in each part, the pages before the writer hold {@code pass + 1} and the pages from the writer on
 * hold {@code pass} (mod 256); every other byte of RAM is zero. This is QEMU's check_guests_ram (neighbouring pages
 * equal but for one step of +1 where the writer stood) made exact by the saved writer position.
 */
final class Memtest extends Workload {
    /** Pages a step increments: a few microseconds of work. */
    private static final int PAGES_PER_STEP = 64;

    private final long start;
    private final long end;
    private final Program[] programs;

    Memtest(GuestRam ram, int vcpus, long seed, Options o) {
        super(ram, vcpus, seed);
        start = o.size("start", 1L << 20);
        end = o.size("end", Math.min(100L << 20, ram.size()));
        o.requireAllUsed("start, end");
        if ((start & (Pages.SIZE - 1)) != 0 || (end & (Pages.SIZE - 1)) != 0 || start >= end) {
            throw new IllegalArgumentException("memtest range must be page aligned and non-empty: start=" + start
                    + " end=" + end);
        }
        if (end > ram.size()) {
            throw new IllegalArgumentException("memtest range end " + end + " lies beyond guest RAM of "
                    + ram.size() + " bytes");
        }
        long pages = (end - start) >>> Pages.SHIFT;
        if (pages < vcpus) {
            throw new IllegalArgumentException("memtest range of " + pages + " pages is smaller than " + vcpus
                    + " vCPUs");
        }
        programs = new Program[vcpus];
        for (int v = 0; v < vcpus; v++) {
            long[] s = share(pages, v);
            programs[v] = new Program(start + (s[0] << Pages.SHIFT), start + (s[1] << Pages.SHIFT));
        }
    }

    @Override
    public String name() {
        return "memtest";
    }

    @Override
    public VCpuProgram program(int vcpu) {
        return programs[vcpu];
    }

    @Override
    public GuestCheck check() {
        GuestCheck outside = checkZeroOutside(start, end);
        if (outside != null) {
            return outside;
        }
        for (int v = 0; v < programs.length; v++) {
            Program p = programs[v];
            for (long gpa = p.lo; gpa < p.hi; gpa += Pages.SIZE) {
                int expected = (int) ((p.pass + (gpa < p.pos ? 1 : 0)) & 0xff);
                int actual = ram.readByte(gpa) & 0xff;
                if (actual != expected) {
                    return GuestCheck.fail("memtest: page at " + hex(gpa) + " holds " + actual + ", expected "
                            + expected + " (vCPU " + v + " writer at " + hex(p.pos) + " in pass " + p.pass + ")");
                }
                long bad = nonZeroWithin(gpa, 1, Pages.SIZE);
                if (bad >= 0) {
                    return GuestCheck.fail("memtest: byte " + bad + " of page " + hex(gpa) + " is not zero");
                }
            }
        }
        return GuestCheck.pass("memtest: " + ((end - start) >>> Pages.SHIFT) + " pages from " + hex(start) + " to "
                + hex(end) + " consistent with the writers' positions; the rest of RAM is zero");
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

    private static final class Program implements VCpuProgram {
        final long lo;
        final long hi;
        long pos;
        long pass;
        long increments;
        /** Copies of pass and increments for other threads; written once per step. */
        volatile long passesDone;
        volatile long incrementsDone;

        Program(long lo, long hi) {
            this.lo = lo;
            this.hi = hi;
            this.pos = lo;
        }

        @Override
        public void step(VCpuMemory memory) {
            for (int i = 0; i < PAGES_PER_STEP; i++) {
                memory.incrementByte(pos);
                pos += Pages.SIZE;
                if (pos == hi) {
                    pos = lo;
                    pass++;
                }
            }
            increments += PAGES_PER_STEP;
            passesDone = pass;
            incrementsDone = increments;
        }

        @Override
        public void save(StateWriter out) {
            out.putLong(pos).putLong(pass).putLong(increments);
        }

        @Override
        public void load(StateReader in) throws GuestException {
            long p = in.getLong("memtest writer position", lo, hi - 1);
            if ((p & (Pages.SIZE - 1)) != 0) {
                throw new GuestException("execution state: memtest writer position " + p + " is not page aligned");
            }
            pos = p;
            pass = in.getLong("memtest pass", 0, Long.MAX_VALUE);
            increments = in.getLong("memtest increments", 0, Long.MAX_VALUE);
            passesDone = pass;
            incrementsDone = increments;
        }
    }
}
