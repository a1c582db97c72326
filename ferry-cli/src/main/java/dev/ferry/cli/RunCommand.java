/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.RamDump;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import dev.ferry.util.Units;
import java.io.PrintStream;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ferry run}: runs a guest and, if asked, migrates it live. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run an in-process guest and, with --migrate-to, migrate it live to a destination.",
                "Exit status: 0 migrated (or ran for --run-for); 3 the migration failed and 4 it was aborted, the"
                        + " guest having kept running here."})
public final class RunCommand implements Callable<Integer> {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration PEER_TIMEOUT = Duration.ofSeconds(30);
    static final Duration COMPLETION_TIMEOUT = Duration.ofSeconds(60);

    @Mixin
    GuestOptions guestOptions;

    @Mixin
    MigrationOptions migrationOptions;

    @Mixin
    ReplicationOptions replicationOptions;

    @Option(names = "--migrate-to", paramLabel = "HOST:PORT", converter = Converters.Address.class,
            description = "Migrate the guest live to a destination started with 'ferry incoming'.")
    HostPort migrateTo;

    @Option(names = "--migrate-after", paramLabel = "DURATION", converter = Converters.Time.class,
            defaultValue = "1s", description = "Let the guest run this long before migrating, saving or replicating"
                    + " (default ${DEFAULT-VALUE}).")
    Duration migrateAfter;

    @Option(names = "--run-for", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Stop after this long (counted from the start). Without it a guest that did not migrate"
                    + " runs until interrupted.")
    Duration runFor;

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Write the statistics as JSON.")
    Path statsJson;

    @Option(names = "--report", paramLabel = "FILE",
            description = "Write a report of the migration with charts: FILE.html, .png or .svg.")
    Path reportFile;

    @Option(names = "--dump-ram", paramLabel = "FILE",
            description = "Write the guest's RAM, as it was when the final copy was taken, to FILE.")
    Path dumpRam;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final CountDownLatch interrupted = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile PrecopyLoop running;
    private volatile int exitStatus = Main.ERROR;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        PrecopyPolicy policy = migrationOptions.policy();
        MigrationParameters params = migrationOptions.parameters();
        InProcessGuest guest = InProcessGuest.create(guestOptions.config());
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("guest", guest.descriptor().properties());
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(this::onSignal));
        guest.resume();
        out.printf("guest running: %s of RAM, workload %s on %d vCPU(s)%n", Units.bytes(guest.ramSize()),
                guestOptions.workload, guestOptions.vcpus);
        if (replicationOptions.replicateTo != null) {
            if (migrateTo != null) {
                throw new IllegalArgumentException("--replicate-to and --migrate-to cannot be combined");
            }
            return replicate(guest, report, start, policy, params);
        }
        if (migrateTo == null) {
            waitUntil(start, runFor);
            return finish(guest, report, null, Main.OK);
        }
        long migrateAt = System.nanoTime() + migrateAfter.toNanos();
        dev.ferry.precopy.Warmup.run();
        if (waitFor(migrateAt - System.nanoTime())) {
            return finish(guest, report, null, Main.OK);
        }
        MigrationStats stats = new MigrationStats(guest.ramSize(), dev.ferry.memory.Pages.SIZE);
        PrecopyLoop.Outcome outcome = migrate(guest, migrateTo, policy, params, migrationOptions.capabilities(), stats,
                out, loop -> running = loop);
        running = null;
        report.put("migration", stats.toMap());
        report.put("workload-at-switchover", guest.counters());
        if (outcome.completed()) {
            if (dumpRam != null) {
                RamDump.write(guest, dumpRam);
            }
            printSummary(stats);
            return finish(guest, report, stats, Main.OK);
        }
        err.println("ferry run: migration " + (outcome.status() == Status.CANCELLED ? "aborted" : "failed") + ": "
                + outcome.message());
        err.println("ferry run: the guest keeps running here");
        if (dumpRam != null) {
            guest.pause();
            RamDump.write(guest, dumpRam);
            guest.resume();
        }
        int status = outcome.status() == Status.CANCELLED ? Main.MIGRATION_ABORTED : Main.MIGRATION_FAILED;
        waitUntil(start, runFor);
        return finish(guest, report, stats, status);
    }

    private int replicate(InProcessGuest guest, Map<String, Object> report, long start, PrecopyPolicy policy,
            MigrationParameters params) throws java.io.IOException {
        long replicateAt = System.nanoTime() + migrateAfter.toNanos();
        dev.ferry.precopy.Warmup.run();
        if (waitFor(replicateAt - System.nanoTime())) {
            return finish(guest, report, null, Main.OK);
        }
        Replicate.Started r = Replicate.start(guest, replicationOptions, policy, params, out, err);
        if (r.failure() != null) {
            err.println("ferry run: replication could not start: " + r.failure()
                    + "; the guest keeps running here, unprotected");
            report.put("replication", r.report());
            waitUntil(start, runFor);
            return finish(guest, report, null, Main.MIGRATION_FAILED);
        }
        waitUntil(start, runFor);
        r.checkpointer().stop("the primary is shutting down");
        report.put("replication", r.report());
        var m = r.stats().toMap();
        out.println("replication: " + m.get("checkpoints") + " checkpoints, pause " + m.get("pause-ms")
                + ", status " + r.stats().status());
        return finish(guest, report, null, "ended".equals(r.stats().status()) ? Main.MIGRATION_FAILED : Main.OK);
    }

    /** Migrates {@code guest} to {@code target}; never throws: the outcome says how it ended. */
    static PrecopyLoop.Outcome migrate(InProcessGuest guest, HostPort target, PrecopyPolicy policy,
            MigrationParameters params, int capabilities, MigrationStats stats, PrintStream out,
            java.util.function.Consumer<PrecopyLoop> started) {
        out.println("migrating to " + target + " with policy " + policy.describe() + ", downtime-limit "
                + params.downtimeLimitMillis() + " ms, max-bandwidth "
                + (params.maxBandwidth() == 0 ? "unlimited" : params.maxBandwidth() + " B/s")
                + ((capabilities & dev.ferry.stream.StreamFormat.CAP_XBZRLE) != 0
                        ? ", xbzrle (cache " + dev.ferry.util.Units.bytes(params.xbzrleCacheSize()) + ")" : ""));
        SocketChannel socket;
        try {
            socket = Tcp.connect(target, CONNECT_TIMEOUT);
        } catch (java.io.IOException e) {
            stats.error(e.getMessage());
            stats.status(Status.FAILED);
            return new PrecopyLoop.Outcome(Status.FAILED, e.getMessage());
        }
        WatchedChannel channel = new WatchedChannel(socket, "destination " + target, PEER_TIMEOUT);
        try (StreamSink sink = new StreamSink(channel, channel, "destination " + target);
                Progress progress = new Progress(stats, out)) {
            PrecopyLoop loop = new PrecopyLoop(guest, sink, policy, params, stats, progress, capabilities,
                    COMPLETION_TIMEOUT);
            started.accept(loop);
            return loop.run();
        }
    }

    private void printSummary(MigrationStats stats) {
        var m = stats.toMap();
        @SuppressWarnings("unchecked")
        var ram = (Map<String, Object>) m.get("ram");
        out.printf("migration completed in %d ms: downtime %.1f ms, %d rounds, %s sent (%s pages normal, %s zero),"
                        + " %s Mbit/s%n", stats.totalTimeMillis(), stats.downtimeMillisPrecise(),
                stats.iterations().size(), Units.bytes(stats.transferred()), ram.get("normal"), ram.get("duplicate"),
                ram.get("mbps"));
    }

    private int finish(InProcessGuest guest, Map<String, Object> report, MigrationStats stats, int status)
            throws java.io.IOException {
        report.put("workload-at-exit", guest.counters());
        if (stats != null) {
            report.put("migration", stats.toMap());
        }
        report.put("exit-status", status);
        if (statsJson != null) {
            Json.write(statsJson, report);
        }
        if (reportFile != null) {
            if (stats == null) {
                err.println("ferry run: no migration ran, so there is no report to write to " + reportFile);
            } else {
                dev.ferry.report.MigrationReport.write(stats.toMap(), reportFile);
                out.println("report written to " + reportFile);
            }
        }
        guest.close();
        exitStatus = status;
        finished.countDown();
        return status;
    }

    /**
     * SIGINT or SIGTERM: abort a migration in progress (the guest keeps running until the command has written its
     * statistics), let the command finish, and exit with its status rather than the signal's.
     */
    private void onSignal() {
        if (finished.getCount() == 0) {
            return; // a normal exit, not a signal
        }
        PrecopyLoop loop = running;
        if (loop != null) {
            loop.requestAbort("interrupted by a signal");
        }
        interrupted.countDown();
        try {
            if (finished.await(20, TimeUnit.SECONDS)) {
                out.flush();
                err.flush();
                Runtime.getRuntime().halt(exitStatus);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until {@code runFor} after {@code start} (forever without it) or an interrupt. */
    private void waitUntil(long start, Duration runFor) {
        if (runFor == null) {
            waitFor(Long.MAX_VALUE);
        } else {
            waitFor(start + runFor.toNanos() - System.nanoTime());
        }
    }

    /** Waits; returns true if interrupted (SIGINT, SIGTERM). */
    private boolean waitFor(long nanos) {
        try {
            return nanos > 0 && interrupted.await(nanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }
}
