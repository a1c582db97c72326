/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.RamDump;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.snapshot.FileSpace;
import dev.ferry.snapshot.MappedRamSink;
import dev.ferry.snapshot.SaveTarget;
import dev.ferry.snapshot.StreamFileSink;
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
        description = {"Run an in-process guest and, with --migrate-to, migrate it live to a destination, or with"
                + " --save-to, save it live to a file.",
                "Exit status: 0 migrated or saved (or ran for --run-for); 1 error (the save target was refused, no"
                        + " guest started); 3 the migration or save failed and 4 it was aborted, the guest having kept"
                        + " running here."})
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

    @Option(names = "--save-to", paramLabel = "FILE",
            description = "Save the guest live to FILE, under the same policy and parameters as a migration; the"
                    + " guest stops when the file is complete. Written as FILE.partial and renamed into place.")
    Path saveTo;

    @Option(names = "--mapped-ram", description = "With --save-to: every page at a fixed offset, so the file never"
            + " grows beyond RAM plus metadata and zero pages take no space (default: the sequential stream).")
    boolean mappedRam;

    @Option(names = "--direct-io", description = "With --save-to --mapped-ram: write the page area with O_DIRECT.")
    boolean directIo;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

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

    /** Human output: stdout, or stderr when the save itself goes to stdout. */
    private PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final CountDownLatch interrupted = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile PrecopyLoop running;
    private volatile int exitStatus = Main.ERROR;
    private long guestRam;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        PrecopyPolicy policy = migrationOptions.policy();
        MigrationParameters params = migrationOptions.parameters();
        checkSaveOptions();
        if (saveTo != null && isStandardOutput(saveTo)) {
            out = err; // the stream goes to stdout: keep progress lines out of it
        }
        InProcessGuest guest = InProcessGuest.create(guestOptions.config());
        guestRam = guest.ramSize();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("guest", guest.descriptor().properties());
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(this::onSignal));
        guest.resume();
        out.printf("guest running: %s of RAM, workload %s on %d vCPU(s)%n", Units.bytes(guest.ramSize()),
                guestOptions.workload, guestOptions.vcpus);
        if (replicationOptions.replicateTo != null) {
            return replicate(guest, report, start, policy, params);
        }
        if (migrateTo == null && saveTo == null) {
            waitUntil(start, runFor);
            return finish(guest, report, null, Main.OK);
        }
        long migrateAt = System.nanoTime() + migrateAfter.toNanos();
        dev.ferry.precopy.Warmup.run();
        if (waitFor(migrateAt - System.nanoTime())) {
            return finish(guest, report, null, Main.OK);
        }
        MigrationStats stats = new MigrationStats(guest.ramSize(), dev.ferry.memory.Pages.SIZE);
        PrecopyLoop.Outcome outcome = saveTo != null
                ? save(guest, saveTo, mappedRam, directIo, migrationOptions.capabilities(), policy, params, stats, out,
                        loop -> running = loop)
                : migrate(guest, migrateTo, policy, params, migrationOptions.capabilities(), stats, out,
                        loop -> running = loop);
        running = null;
        report.put("migration", stats.toMap());
        report.put("workload-at-switchover", guest.counters());
        String what = saveTo != null ? "save" : "migration";
        if (outcome.completed()) {
            if (dumpRam != null) {
                RamDump.write(guest, dumpRam);
            }
            printSummary(stats, what);
            if (saveTo != null) {
                report.put("save", describeSave());
            }
            return finish(guest, report, stats, Main.OK);
        }
        err.println("ferry run: " + what + " " + (outcome.status() == Status.CANCELLED ? "aborted" : "failed") + ": "
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

    /**
     * Refuses, before any guest starts, option combinations that cannot work and save targets that cannot take the
     * save (a FIFO or a device for mapped-ram, a file system without O_DIRECT for --direct-io).
     */
    private void checkSaveOptions() throws java.io.IOException {
        if (saveTo != null && migrateTo != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--save-to and --migrate-to exclude each other");
        }
        if (replicationOptions.replicateTo != null && (saveTo != null || migrateTo != null)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--replicate-to excludes --migrate-to and --save-to");
        }
        if (mappedRam && migrationOptions.xbzrle) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--mapped-ram cannot be combined with --xbzrle: a page slot holds a whole page, not a delta");
        }
        if ((mappedRam || directIo) && saveTo == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    (mappedRam ? "--mapped-ram" : "--direct-io") + " needs --save-to FILE");
        }
        if (directIo && !mappedRam) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--direct-io needs --mapped-ram (O_DIRECT writes need the aligned page slots of mapped-ram)");
        }
        if (saveTo != null) {
            SaveTarget target = SaveTarget.of(saveTo, mappedRam);
            if (directIo) {
                target.probeDirect();
            }
        }
    }

    private static boolean isStandardOutput(Path file) {
        Path stdout = Path.of("/proc/self/fd/1");
        try {
            return java.nio.file.Files.exists(file) && java.nio.file.Files.exists(stdout)
                    && java.nio.file.Files.isSameFile(file, stdout);
        } catch (java.io.IOException | SecurityException e) {
            return false;
        }
    }

    /**
     * Saves {@code guest} live to {@code file}; never throws: the outcome says how it ended. {@code capabilities}
     * are the stream capabilities the save asks for (as a migration does); mapped-ram refuses any, naming it.
     */
    static PrecopyLoop.Outcome save(InProcessGuest guest, Path file, boolean mappedRam, boolean directIo,
            int capabilities, PrecopyPolicy policy, MigrationParameters params, MigrationStats stats, PrintStream out,
            java.util.function.Consumer<PrecopyLoop> started) {
        out.println("saving to " + file + " (" + (mappedRam ? "mapped-ram" + (directIo ? ", O_DIRECT" : "")
                : "sequential stream") + ") with policy " + policy.describe() + ", downtime-limit "
                + params.downtimeLimitMillis() + " ms, max-bandwidth "
                + (params.maxBandwidth() == 0 ? "unlimited" : params.maxBandwidth() + " B/s"));
        PageSink sink;
        try {
            sink = mappedRam ? new MappedRamSink(file, directIo, guest.ramBlocks()) : new StreamFileSink(file);
        } catch (java.io.IOException e) {
            stats.error(e.getMessage());
            stats.status(Status.FAILED);
            return new PrecopyLoop.Outcome(Status.FAILED, e.getMessage());
        }
        try (sink; Progress progress = new Progress(stats, out)) {
            PrecopyLoop loop = new PrecopyLoop(guest, sink, policy, params, stats, progress, capabilities,
                    COMPLETION_TIMEOUT);
            started.accept(loop);
            return loop.run();
        }
    }

    private Map<String, Object> describeSave() throws java.io.IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", saveTo.toString());
        m.put("format", mappedRam ? "mapped-ram" : "stream");
        m.put("direct-io", directIo);
        if (java.nio.file.Files.isRegularFile(saveTo)) {
            m.put("file-size", java.nio.file.Files.size(saveTo));
            long allocated = FileSpace.allocated(saveTo);
            if (allocated >= 0) {
                m.put("allocated-bytes", allocated);
            }
        }
        return m;
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

    private void printSummary(MigrationStats stats, String what) throws java.io.IOException {
        var m = stats.toMap();
        @SuppressWarnings("unchecked")
        var ram = (Map<String, Object>) m.get("ram");
        out.printf("%s completed in %d ms: downtime %.1f ms, %d rounds, %s %s (%s pages normal, %s zero),"
                        + " %s Mbit/s%n", what, stats.totalTimeMillis(), stats.downtimeMillisPrecise(),
                stats.iterations().size(), Units.bytes(stats.transferred()), saveTo != null ? "written" : "sent",
                ram.get("normal"), ram.get("duplicate"), ram.get("mbps"));
        if (saveTo != null && java.nio.file.Files.isRegularFile(saveTo)) {
            long size = java.nio.file.Files.size(saveTo);
            long allocated = FileSpace.allocated(saveTo);
            out.printf("saved %s (%s): file size %d bytes (%s), %s on disk; guest RAM %d bytes (%s)%n", saveTo,
                    mappedRam ? "mapped-ram" : "stream", size, Units.bytes(size),
                    allocated < 0 ? "unknown" : Units.bytes(allocated), guestRam, Units.bytes(guestRam));
        }
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
