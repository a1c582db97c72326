/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.workload;

import dev.ferry.guest.GuestCheck;
import dev.ferry.guest.RamBlock;
import dev.ferry.guest.inprocess.GuestRam;
import dev.ferry.memory.Pages;
import dev.ferry.util.Options;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * What runs on the in-process guest's vCPUs: one {@link VCpuProgram} per vCPU over its own share of RAM, and a
 * check of the memory invariant the programs keep. Every workload is reproducible from its seed.
 */
public abstract class Workload {
    /** The workload names {@link #create} knows, for help texts. */
    public static final String NAMES = "memtest, seed, random, idle, kv";

    protected final GuestRam ram;
    protected final int vcpus;
    protected final long seed;

    protected Workload(GuestRam ram, int vcpus, long seed) {
        this.ram = ram;
        this.vcpus = vcpus;
        this.seed = seed;
    }

    /**
     * Creates the workload a spec names, e.g. {@code memtest,start=1M,end=100M}.
     *
     * @throws IllegalArgumentException naming the unknown workload or option, or the impossible value
     */
    public static Workload create(String spec, GuestRam ram, int vcpus, long seed) {
        Options o = Options.parse(spec);
        Workload w = switch (o.name()) {
            case "memtest" -> new Memtest(ram, vcpus, seed, o);
            case "seed" -> new SeedLoad(ram, vcpus, seed, o);
            case "random" -> new RandomWrites(ram, vcpus, seed, o);
            case "idle" -> new Idle(ram, vcpus, seed, o);
            case "kv" -> new KeyValue(ram, vcpus, seed, o);
            default -> throw new IllegalArgumentException("unknown workload '" + o.name() + "' (known: " + NAMES + ")");
        };
        return w;
    }

    public abstract String name();

    public abstract VCpuProgram program(int vcpu);

    /** Checks the invariant the programs keep in RAM, given their current state. The guest must be paused. */
    public abstract GuestCheck check();

    /** The guest's network device, for workloads that serve clients; null for the others. */
    public dev.ferry.guest.inprocess.device.NetDevice device() {
        return null;
    }

    /** Progress counters, readable while the guest runs. */
    public abstract Map<String, Object> counters();

    /** The {@code [from, to)} share of {@code count} items that vCPU {@code vcpu} works on. */
    protected long[] share(long count, int vcpu) {
        long from = count * vcpu / vcpus;
        long to = count * (vcpu + 1) / vcpus;
        return new long[] {from, to};
    }

    /** Guest address of the first non-zero page in {@code [from, to)} (page aligned), or -1. */
    protected long firstNonZeroPage(long from, long to) {
        for (long gpa = from; gpa < to; gpa += Pages.SIZE) {
            int b = ram.blockOf(gpa);
            if (!Pages.isZero(ram.blocks().get(b).memory(), gpa - ram.blockStart(b))) {
                return gpa;
            }
        }
        return -1;
    }

    /** Checks that no page outside {@code [from, to)} was written: the workload only writes there. */
    protected GuestCheck checkZeroOutside(long from, long to) {
        long bad = firstNonZeroPage(0, from);
        if (bad < 0) {
            bad = firstNonZeroPage(to, ram.size());
        }
        return bad < 0 ? null : GuestCheck.fail(name() + ": page at guest address 0x" + Long.toHexString(bad)
                + " is not zero, but lies outside the workload's memory");
    }

    /** Offset of the first byte in {@code [from, to)} of the page at {@code gpa} that is not zero, or -1. */
    protected long nonZeroWithin(long gpa, int from, int to) {
        if (to <= from) {
            return -1;
        }
        int b = ram.blockOf(gpa);
        RamBlock block = ram.blocks().get(b);
        long off = gpa - ram.blockStart(b);
        long m = MemorySegment.mismatch(block.memory(), off + from, off + to, Pages.ZERO_PAGE, from, to);
        return m < 0 ? -1 : from + m;
    }

    protected static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
