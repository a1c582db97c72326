/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Pages;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The shape of an in-process guest: RAM block sizes, vCPUs, workload spec, seed and store-rate limit. It travels
 * to the destination as the {@link GuestDescriptor}'s properties, so the destination builds the same guest.
 *
 * @param rate stores per second over all vCPUs (each store dirties a page), or 0 for no limit
 */
public record InProcessConfig(long[] blockSizes, int vcpus, String workload, long seed, long rate) {
    /** Largest guest the in-process backend accepts (a bound for sizes read from a stream or a file). */
    public static final long MAX_RAM = 1L << 40;
    public static final int MAX_VCPUS = 256;
    public static final int MAX_BLOCKS = 64;

    public InProcessConfig {
        if (blockSizes.length == 0 || blockSizes.length > MAX_BLOCKS) {
            throw new IllegalArgumentException("a guest needs 1 to " + MAX_BLOCKS + " RAM blocks");
        }
        long total = 0;
        for (long s : blockSizes) {
            if (s <= 0 || (s & (Pages.SIZE - 1)) != 0) {
                throw new IllegalArgumentException("RAM block size must be a positive multiple of 4 KiB: " + s);
            }
            total += s;
            if (total > MAX_RAM || total < 0) {
                throw new IllegalArgumentException("guest RAM larger than " + (MAX_RAM >> 30) + " GiB");
            }
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vCPU count must be between 1 and " + MAX_VCPUS + ": " + vcpus);
        }
        if (rate < 0) {
            throw new IllegalArgumentException("rate limit must not be negative: " + rate);
        }
        blockSizes = blockSizes.clone();
    }

    @Override
    public long[] blockSizes() {
        return blockSizes.clone();
    }

    public GuestDescriptor toDescriptor() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("memory", Arrays.stream(blockSizes).mapToObj(Long::toString).collect(Collectors.joining(",")));
        p.put("vcpus", Integer.toString(vcpus));
        p.put("workload", workload);
        p.put("seed", Long.toString(seed));
        p.put("rate", Long.toString(rate));
        return new GuestDescriptor(InProcessGuest.BACKEND, p);
    }

    /**
     * Reads a descriptor that came from a stream or a file.
     *
     * @throws IllegalArgumentException naming the bad property
     */
    public static InProcessConfig fromDescriptor(GuestDescriptor d) {
        if (!InProcessGuest.BACKEND.equals(d.backend())) {
            throw new IllegalArgumentException("not an in-process guest: backend '" + d.backend() + "'");
        }
        try {
            String[] parts = d.property("memory").split(",");
            if (parts.length > MAX_BLOCKS) {
                throw new IllegalArgumentException("more than " + MAX_BLOCKS + " RAM blocks");
            }
            long[] sizes = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                sizes[i] = Long.parseLong(parts[i]);
            }
            return new InProcessConfig(sizes, Integer.parseInt(d.property("vcpus")), d.property("workload"),
                    Long.parseLong(d.property("seed")), Long.parseLong(d.property("rate")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("in-process guest descriptor has a malformed number: "
                    + e.getMessage());
        }
    }

    public long ramSize() {
        long t = 0;
        for (long s : blockSizes) {
            t += s;
        }
        return t;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InProcessConfig c && Arrays.equals(blockSizes, c.blockSizes) && vcpus == c.vcpus
                && workload.equals(c.workload) && seed == c.seed && rate == c.rate;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(blockSizes) * 31 + workload.hashCode();
    }

    @Override
    public String toString() {
        return "InProcessConfig" + toDescriptor().properties();
    }
}
