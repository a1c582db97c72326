/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.Guest;
import dev.ferry.memory.Pages;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.replication.Checkpointer;
import dev.ferry.replication.ReplicationStats;
import dev.ferry.stats.MigrationStats;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.SocketChannel;
import java.util.Map;

/**
 * {@code run --replicate-to}: seeds the standby with a live migration that ends with the guest resumed here
 * instead of handed over, then starts the checkpointer.
 */
final class Replicate {
    /** Replication's hold on the guest's pause (see {@link dev.ferry.guest.PauseHolds}): the seed's and checkpoints'. */
    static final String HOLDER = "replication";

    private Replicate() {
    }

    /** A replication under way, or the reason it could not start. */
    record Started(Checkpointer checkpointer, ReplicationStats stats, MigrationStats seed, String failure) {
        Map<String, Object> report() {
            Map<String, Object> m = new java.util.LinkedHashMap<>(stats.toMap());
            m.put("seed", seed.toMap());
            return m;
        }
    }

    /** A replication that could not start, for {@code why}. */
    static Started failed(String why) {
        return new Started(null, new ReplicationStats(), new MigrationStats(0, Pages.SIZE), why);
    }

    static Started start(Guest guest, ReplicationOptions o, PrecopyPolicy policy, MigrationParameters params,
            PrintStream out, PrintStream err) {
        ReplicationStats stats = new ReplicationStats();
        MigrationStats seed = new MigrationStats(guest.ramSize(), Pages.SIZE);
        boolean buffering = !o.noOutputBuffering;
        out.println("replicating to " + o.replicateTo + " every " + o.checkpointInterval + " ms, output buffering "
                + (buffering ? "on" : "off"));
        if (!buffering) {
            out.println("warning: without output buffering a client may be told of a write that a failover loses");
        }
        SocketChannel socket;
        try {
            socket = Tcp.connect(o.replicateTo, RunCommand.CONNECT_TIMEOUT);
        } catch (IOException e) {
            stats.toMap();
            return new Started(null, stats, seed, e.getMessage());
        }
        String peer = "standby " + o.replicateTo;
        // Unwatched reads during the seed (the standby is silent until it completes); the checkpointer watches them.
        WatchedChannel channel = new WatchedChannel(socket, peer, RunCommand.PEER_TIMEOUT).watchReads(false);
        Checkpointer checkpointer = new Checkpointer(guest, channel, peer, o.checkpointInterval, buffering,
                o.slabSize, stats, reason -> {
                    err.println("ferry run: replication ended: " + reason + "; the guest keeps running, unprotected");
                    err.flush();
                });
        PrecopyLoop.Outcome outcome;
        try (StreamSink sink = new StreamSink(channel, channel, peer).releaseAfterCompletion();
                Progress progress = new Progress(seed, out)) {
            outcome = new PrecopyLoop(guest, sink, policy, params, seed, progress, 0, RunCommand.COMPLETION_TIMEOUT)
                    .switchover((g, s) -> {
                        ((StreamSink) s).detach();
                        checkpointer.seedCommitted();
                        return true;
                    }).run();
        }
        if (!outcome.completed()) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing
            }
            return new Started(null, stats, seed, outcome.message());
        }
        out.printf("standby seeded in %d ms (pause %.1f ms); checkpointing every %d ms%n", seed.totalTimeMillis(),
                seed.downtimeMillisPrecise(), o.checkpointInterval);
        out.flush();
        checkpointer.start();
        return new Started(checkpointer, stats, seed, null);
    }
}
