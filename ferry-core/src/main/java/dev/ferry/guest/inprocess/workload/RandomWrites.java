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
 * Random writes of {@code size} bytes (8 to 4096, a power of two) over a working set, with a hot set: a fraction
 * {@code hot} of each vCPU's slots receives a share {@code hot-share} of its writes.
 *
 * <p>Each slot holds a version {@code v}: its first word is {@code v}, word {@code j} is {@code mix(v + j)}, and a
 * slot never written holds zeros ({@code v = 0}). Each vCPU keeps, in its saved state, the XOR over its slots of
 * {@code h(slot, v)}; the check recomputes that XOR from memory. A lost, stale or misplaced write changes it.
 */
final class RandomWrites extends Workload {
    private static final int WRITES_PER_STEP = 64;

    private final long at;
    private final int size;
    private final double hot;
    private final double hotShare;
    private final long slots;
    private final Program[] programs;

    RandomWrites(GuestRam ram, int vcpus, long seed, Options o) {
        super(ram, vcpus, seed);
        at = o.size("at", 0);
        long wss = o.size("wss", ram.size() - at);
        size = (int) o.size("size", 8);
        hot = o.fraction("hot", 0.1);
        hotShare = o.fraction("hot-share", 0.9);
        o.requireAllUsed("at, wss, size, hot, hot-share");
        if (size < 8 || size > Pages.SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("random: size must be a power of two from 8 to 4096: " + size);
        }
        if (at < 0 || (at & (Pages.SIZE - 1)) != 0 || wss < size || at + wss > ram.size()) {
            throw new IllegalArgumentException("random: working set [" + at + ", " + (at + wss)
                    + ") must be page aligned and lie inside guest RAM of " + ram.size() + " bytes");
        }
        slots = wss / size;
        if (slots < vcpus) {
            throw new IllegalArgumentException("random: working set smaller than one slot per vCPU");
        }
        programs = new Program[vcpus];
        for (int v = 0; v < vcpus; v++) {
            long[] s = share(slots, v);
            programs[v] = new Program(v, s[0], s[1]);
        }
    }

    @Override
    public String name() {
        return "random";
    }

    @Override
    public VCpuProgram program(int vcpu) {
        return programs[vcpu];
    }

    static long word(long version, int j) {
        return j == 0 ? version : Mix.mix(version + j * Mix.GOLDEN);
    }

    static long slotHash(long slot, long version) {
        return version == 0 ? 0 : Mix.mix(version ^ Mix.mix(slot + 1));
    }

    @Override
    public GuestCheck check() {
        GuestCheck outside = checkZeroOutside(at, at + slots * size);
        if (outside != null) {
            return outside;
        }
        int words = size / 8;
        for (int v = 0; v < programs.length; v++) {
            Program p = programs[v];
            long digest = 0;
            for (long s = p.lo; s < p.hi; s++) {
                long gpa = at + s * size;
                int b = ram.blockOf(gpa);
                var mem = ram.blocks().get(b).memory();
                long off = gpa - ram.blockStart(b);
                long version = mem.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off);
                for (int j = 1; j < words; j++) {
                    long expected = version == 0 ? 0 : word(version, j);
                    long actual = mem.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off + 8L * j);
                    if (actual != expected) {
                        return GuestCheck.fail("random: slot at " + hex(gpa) + " is torn: word " + j
                                + " does not match version " + Long.toHexString(version));
                    }
                }
                digest ^= slotHash(s, version);
            }
            if (digest != p.digest) {
                return GuestCheck.fail("random: vCPU " + v + "'s slots hash to " + Long.toHexString(digest)
                        + ", but its " + p.writes + " writes left " + Long.toHexString(p.digest)
                        + ": a write was lost or misplaced");
            }
        }
        return GuestCheck.pass("random: " + slots + " slots of " + size + " bytes match the hash of all writes;"
                + " the rest of RAM is zero");
    }

    @Override
    public Map<String, Object> counters() {
        long writes = 0;
        for (Program p : programs) {
            writes += p.writesDone;
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("writes", writes);
        return c;
    }

    private final class Program implements VCpuProgram {
        final long lo;
        final long hi;
        final long hotSlots;
        final long[] buffer = new long[size / 8];
        long prng;
        long writes;
        long digest;
        volatile long writesDone;

        Program(int vcpu, long lo, long hi) {
            this.lo = lo;
            this.hi = hi;
            this.hotSlots = Math.max(1, (long) ((hi - lo) * hot));
            this.prng = Mix.mix(seed ^ Mix.mix(vcpu + 0x5EEDL));
        }

        private long next() {
            prng += Mix.GOLDEN;
            return Mix.mix(prng);
        }

        @Override
        public void step(VCpuMemory memory) {
            int words = buffer.length;
            for (int k = 0; k < WRITES_PER_STEP; k++) {
                long r = next();
                long slot = Mix.unit(next()) < hotShare
                        ? lo + Mix.below(r, hotSlots)
                        : lo + Mix.below(r, hi - lo);
                long version = next() | 1;
                long gpa = at + slot * size;
                long old = memory.getLong(gpa);
                for (int j = 0; j < words; j++) {
                    buffer[j] = word(version, j);
                }
                memory.putLongs(gpa, buffer, words);
                digest ^= slotHash(slot, old) ^ slotHash(slot, version);
            }
            writes += WRITES_PER_STEP;
            writesDone = writes;
        }

        @Override
        public void save(StateWriter out) {
            out.putLong(prng).putLong(writes).putLong(digest);
        }

        @Override
        public void load(StateReader in) throws GuestException {
            prng = in.getLong("random PRNG state");
            writes = in.getLong("random writes", 0, Long.MAX_VALUE);
            digest = in.getLong("random digest");
            writesDone = writes;
        }
    }
}
