/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.guest.inprocess.device.NetDevice;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.precopy.Warmup;
import dev.ferry.replication.Slabs;
import dev.ferry.replication.Standby;
import dev.ferry.replication.StandbyStats;
import dev.ferry.stream.FrameReader;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry standby}: keeps a hot standby copy of a replicated guest and takes over when the primary dies. */
@Command(name = "standby", mixinStandardHelpOptions = true,
        description = {"Accept replication from a primary ('ferry run --replicate-to'): a full migration, then a"
                + " checkpoint every interval. When the primary is lost (connection reset or closed, no heartbeat"
                + " within the timeout), resume the guest from the last committed checkpoint and take over its"
                + " network port.",
                "Exit status: 0 the standby took over and the guest ran (and passed --verify), or the primary stopped"
                        + " replication; 1 replication failed (the standby did not take over), or the takeover could"
                        + " not listen on the guest's port; 5 the guest's memory check failed."})
public final class StandbyCommand implements Callable<Integer> {
    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", converter = Converters.Address.class,
            description = "Address to accept the primary on.")
    HostPort listen;

    @Option(names = "--heartbeat-timeout", paramLabel = "MS", defaultValue = "2000",
            description = "Fail over when nothing arrives from the primary for this long (default ${DEFAULT-VALUE},"
                    + " at least 500).")
    long heartbeatTimeout;

    @Option(names = "--run-for", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "After taking over, let the guest run this long, then stop (default: until interrupted).")
    Duration runFor;

    @Option(names = "--verify", description = "Before exiting, pause the guest and run its workload's memory check.")
    boolean verify;

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Write the statistics as JSON.")
    Path statsJson;

    @Option(names = "--slab-size", paramLabel = "SIZE", converter = Converters.Size.class, defaultValue = "5M",
            description = "Size of one staging slab (default ${DEFAULT-VALUE}).")
    long slabSize;

    @picocli.CommandLine.Mixin
    ControlOptions controlOptions;


    private volatile Guest running;
    private volatile WatchedChannel primary;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final CountDownLatch interrupted = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        if (heartbeatTimeout < 500) {
            throw new IllegalArgumentException("--heartbeat-timeout must be at least 500 ms");
        }
        if (!Slabs.validSize(slabSize)) {
            // Checked here, not only when the first checkpoint is staged, after the primary has sent its whole seed.
            throw new IllegalArgumentException("--slab-size " + slabSize + " is not a positive multiple of 4 KiB");
        }
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(interrupted::countDown));
        IncomingStats seed = new IncomingStats();
        StandbyStats stats = new StandbyStats();
        Map<String, Object> report = new LinkedHashMap<>();
        dev.ferry.control.QmpServer qmp = controlOptions.open();
        try {
            return serve(seed, stats, report, qmp);
        } finally {
            if (qmp != null) {
                qmp.close();
            }
        }
    }

    private Integer serve(IncomingStats seed, StandbyStats stats, Map<String, Object> report,
            dev.ferry.control.QmpServer qmp) throws Exception {
        if (qmp != null) {
            GuestCommands.register(qmp, () -> running, () -> "inmigrate");
            qmp.register("x-ferry-query-replication", a -> stats.toMap());
            qmp.register("x-ferry-failover", a -> {
                WatchedChannel c = primary;
                if (c == null || running != null) {
                    throw dev.ferry.control.QmpError.generic("No replication to fail over from");
                }
                // Closing the connection is what the primary's death looks like: the standby takes over.
                try {
                    c.close();
                } catch (java.io.IOException e) {
                    throw dev.ferry.control.QmpError.generic("cannot close the replication connection: "
                            + e.getMessage());
                }
                return null;
            });
            out.println("control socket on " + qmp.address());
        }
        Warmup.run();
        Standby.Outcome outcome;
        try (ServerSocketChannel server = Tcp.listen(listen)) {
            out.println("standby listening on " + server.getLocalAddress().toString().replaceFirst("^/", ""));
            out.flush();
            SocketChannel socket = Tcp.accept(server);
            String peer = Tcp.describe(socket);
            out.println("replication from primary " + peer);
            out.flush();
            WatchedChannel channel = new WatchedChannel(socket, "primary " + peer, Duration.ofMillis(heartbeatTimeout));
            primary = channel;
            try {
                outcome = new Standby(new FrameReader(channel, "replication stream from " + peer), channel, seed,
                        stats).run(slabSize);
            } catch (IOException | GuestException e) {
                err.println("ferry standby: replication failed: " + e.getMessage() + "; no guest was started");
                return finish(report, seed, stats, Main.ERROR);
            } finally {
                channel.close();
            }
        }
        if (!outcome.failover()) {
            boolean clean = outcome.reason().startsWith("the primary stopped replication");
            (clean ? out : err).println((clean ? "" : "ferry standby: ") + "replication ended: " + outcome.reason()
                    + "; the standby did not take over");
            return finish(report, seed, stats, clean ? Main.OK : Main.ERROR);
        }
        Guest guest = outcome.guest();
        try {
            long t0 = System.nanoTime();
            out.println("primary lost: " + outcome.reason());
            out.println("failover: resuming the guest from checkpoint " + outcome.committed());
            guest.resume();
            running = guest;
            stats.failoverTook((System.nanoTime() - t0) / 1_000_000);
            if (qmp != null) {
                qmp.emit("FERRY_FAILOVER", Map.of("checkpoint", outcome.committed(), "reason", outcome.reason()));
            }
            if (guest instanceof InProcessGuest g && g.netDevice() != null) {
                String cannot = GuestRun.awaitPort(g);
                if (cannot != null) {
                    err.println("ferry standby: failover failed: " + cannot + "; the guest cannot serve its clients"
                            + " here and is stopped");
                    report.put("failover-error", cannot);
                    return finish(report, seed, stats, Main.ERROR);
                }
                out.println("serving port " + g.netDevice().port());
            }
            report.put("guest", guest.descriptor().properties());
            report.put("workload-at-failover", guest.counters());
            out.flush();
            int status = GuestRun.runThenCheck(guest, runFor, interrupted, verify, report, out);
            return finish(report, seed, stats, status);
        } finally {
            guest.close();
        }
    }

    private int finish(Map<String, Object> report, IncomingStats seed, StandbyStats stats, int status)
            throws IOException {
        report.put("seed", seed.toMap());
        report.put("standby", stats.toMap());
        report.put("exit-status", status);
        if (statsJson != null) {
            Json.write(statsJson, report);
        }
        return status;
    }
}
