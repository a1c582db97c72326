/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.transport.HostPort;
import picocli.CommandLine.Option;

/** Options of {@code run --replicate-to}. */
final class ReplicationOptions {
    @Option(names = "--replicate-to", paramLabel = "HOST:PORT", converter = Converters.Address.class,
            description = "Keep a hot standby ('ferry standby') current: a full migration, then a checkpoint every"
                    + " interval.")
    HostPort replicateTo;

    @Option(names = "--checkpoint-interval", paramLabel = "MS", defaultValue = "100",
            description = "Time between checkpoints (default ${DEFAULT-VALUE} ms).")
    long checkpointInterval;

    @Option(names = "--no-output-buffering",
            description = "Release the guest's output at once instead of after its checkpoint is acknowledged: faster,"
                    + " but a client may be told of a write that a failover then loses.")
    boolean noOutputBuffering;

    @Option(names = "--slab-size", paramLabel = "SIZE", converter = Converters.Size.class, defaultValue = "5M",
            description = "Size of one checkpoint staging slab (default ${DEFAULT-VALUE}).")
    long slabSize;
}
