/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.policy.Policies;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.MigrationParameters;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Options of an outgoing migration: policy and parameters. */
final class MigrationOptions {
    @Option(names = "--policy", paramLabel = "NAME[,opt=value...]",
            description = "Precopy policy (default: downtime). " + Policies.HELP
                    + ". Repeat or join with + to compose.")
    List<String> policies = new ArrayList<>();

    @Option(names = "--downtime-limit", paramLabel = "MS", defaultValue = "300",
            description = "Longest acceptable downtime in ms (default ${DEFAULT-VALUE}).")
    long downtimeLimit;

    @Option(names = "--max-bandwidth", paramLabel = "BYTES_PER_S", defaultValue = "0",
            converter = Converters.Size.class,
            description = "Cap on the bytes per second sent (default: unlimited); suffixes K, M, G allowed.")
    long maxBandwidth;

    @Option(names = "--xbzrle",
            description = "Send re-sent pages as XBZRLE deltas against a cache of what the destination has.")
    boolean xbzrle;

    @Option(names = "--xbzrle-cache-size", paramLabel = "SIZE", converter = Converters.Size.class,
            defaultValue = "64M", description = "Size of the XBZRLE cache of old page contents (default ${DEFAULT-VALUE}).")
    long xbzrleCacheSize;

    @Option(names = "--auto-converge",
            description = "Throttle the guest's vCPUs when it dirties memory faster than it can be sent.")
    boolean autoConverge;

    @Option(names = "--throttle-trigger-threshold", paramLabel = "PERCENT", defaultValue = "50",
            description = "Throttle when the bytes dirtied in a period exceed this percent of the bytes sent in it"
                    + " (default ${DEFAULT-VALUE}).")
    int throttleTriggerThreshold;

    @Option(names = "--cpu-throttle-initial", paramLabel = "PERCENT", defaultValue = "20",
            description = "First throttle (default ${DEFAULT-VALUE}).")
    int cpuThrottleInitial;

    @Option(names = "--cpu-throttle-increment", paramLabel = "PERCENT", defaultValue = "10",
            description = "Added to the throttle each time it is raised (default ${DEFAULT-VALUE}).")
    int cpuThrottleIncrement;

    @Option(names = "--max-cpu-throttle", paramLabel = "PERCENT", defaultValue = "99",
            description = "Highest throttle (default ${DEFAULT-VALUE}).")
    int maxCpuThrottle;

    PrecopyPolicy policy() {
        return Policies.parse(policies);
    }

    /** The stream capabilities to ask the destination for. */
    int capabilities() {
        return xbzrle ? dev.ferry.stream.StreamFormat.CAP_XBZRLE : 0;
    }

    MigrationParameters parameters() {
        return new MigrationParameters().downtimeLimitMillis(downtimeLimit).maxBandwidth(maxBandwidth)
                .autoConverge(autoConverge)
                .xbzrleCacheSize(xbzrleCacheSize)
                .throttle(throttleTriggerThreshold, cpuThrottleInitial, cpuThrottleIncrement, maxCpuThrottle);
    }
}
