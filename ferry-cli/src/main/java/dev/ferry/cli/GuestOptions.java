/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.workload.Workload;
import dev.ferry.util.Units;
import java.util.Arrays;
import picocli.CommandLine.Option;

/** Options that describe an in-process guest. */
final class GuestOptions {
    @Option(names = "--memory", paramLabel = "SIZE[,SIZE...]", defaultValue = "1G",
            description = "Guest RAM (default ${DEFAULT-VALUE}); several sizes make several RAM blocks.")
    String memory;

    @Option(names = "--vcpus", paramLabel = "N", defaultValue = "1",
            description = "vCPU threads running the workload (default ${DEFAULT-VALUE}).")
    int vcpus;

    @Option(names = "--workload", paramLabel = "NAME[,opt=value...]", defaultValue = "memtest",
            description = "What the vCPUs run: " + Workload.NAMES + " (default ${DEFAULT-VALUE}). "
                    + "memtest: start, end; seed: at; random: wss, size, hot, hot-share, at; idle: zero, text.")
    String workload;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the workload's PRNG (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--rate", paramLabel = "STORES_PER_S", defaultValue = "0",
            description = "Limit on the workload's stores per second, each dirtying a page (default: none).")
    long rate;

    InProcessConfig config() {
        long[] sizes = Arrays.stream(memory.split(",")).mapToLong(Units::parseSize).toArray();
        return new InProcessConfig(sizes, vcpus, workload, seed, rate);
    }
}
