/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.GuestController;
import dev.ferry.control.QmpError;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.Guest;
import dev.ferry.guest.PauseHolds;
import dev.ferry.guest.RamDump;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.replication.Checkpointer;
import dev.ferry.replication.Slabs;
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
                        + " running here; 6 the migration completed but the destination did not confirm the handover,"
                        + " and the guest was kept paused here."})
public final class RunCommand implements Callable<Integer> {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration PEER_TIMEOUT = Duration.ofSeconds(30);
    static final Duration COMPLETION_TIMEOUT = Duration.ofSeconds(60);
    private static final String SHUTTING_DOWN = "the primary is shutting down";

    @Mixin
    GuestOptions guestOptions;

    @Mixin
    MigrationOptions migrationOptions;

    @Mixin
    ReplicationOptions replicationOptions;

    @Mixin
    ControlOptions controlOptions;

    @Option(names = "--calc-dirty-rate", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Before migrating, measure how the guest dirties memory for this long and predict how the"
                    + " migration will go (with and without XBZRLE) at --max-bandwidth (1 GB/s if unlimited) and"
                    + " --downtime-limit.")
    Duration calcDirtyRate;

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

    /** The control socket's address, when there is one: messages point at it. */
    private String controlAddress;

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
    private volatile GuestController controller;
    private volatile CliTargets targets;
    /** The guest's replication, started by --replicate-to or on the control socket. */
    private final ReplicationControl replication = new ReplicationControl();
    private volatile int exitStatus = Main.ERROR;
    private long guestRam;
    /** Who holds the guest paused: the control socket's user, a migration, replication, a RAM dump. */
    private PauseHolds holds;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        // The control socket first: the external policy answers through it.
        QmpServer server = controlOptions.open();
        if (server != null) {
            dev.ferry.control.ExternalPolicy.install(server);
        }
        PrecopyPolicy policy;
        try {
            policy = migrationOptions.policy();
        } catch (IllegalArgumentException e) {
            if (server != null) {
                server.close();
            }
            if (e.getMessage().contains("unknown policy 'external'")) {
                throw new IllegalArgumentException("policy 'external' needs a control socket (--control)");
            }
            throw e;
        }
        MigrationParameters params = migrationOptions.parameters();
        checkSaveOptions();
        if (saveTo != null && isStandardOutput(saveTo)) {
            out = err; // the stream goes to stdout: keep progress lines out of it
        }
        InProcessGuest guest = InProcessGuest.create(guestOptions.config());
        guestRam = guest.ramSize();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("guest", guest.descriptor().properties());
        GuestController[] holder = new GuestController[1];
        CliTargets targets = new CliTargets(guest, () -> holder[0].directIo());
        this.targets = targets;
        holds = new PauseHolds(guest);
        GuestController controller = new GuestController(holds, targets,
                params, policy, migrationOptions.policies.isEmpty() ? "downtime"
                        : String.join("+", migrationOptions.policies))
                .capability("xbzrle", migrationOptions.xbzrle).capability("mapped-ram", mappedRam).directIo(directIo);
        holder[0] = controller;
        this.controller = controller;
        Progress progress = new Progress(controller::stats, out);
        controller.listener(progress);
        try (progress) {
            if (server != null) {
                controller.register(server);
                replication.register(server, holds.holder(Replicate.HOLDER), replicationOptions, policy, params, out,
                        err);
                out.println("control socket on " + server.address());
                controlAddress = String.valueOf(server.address());
            }
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(this::onSignal));
            guest.resume();
            out.printf("guest running: %s of RAM, workload %s on %d vCPU(s)%n", Units.bytes(guest.ramSize()),
                    guestOptions.workload, guestOptions.vcpus);
            out.flush();
            if (!GuestRun.portOpens(guest, "run", err, report)) {
                // As QEMU will not start with a host forwarding it cannot set up: nothing runs yet to lose.
                return finish(guest, report, null, Main.ERROR);
            }
            if (replicationOptions.replicateTo != null) {
                return replicate(guest, report, start, policy, params);
            }
            if (calcDirtyRate != null) {
                report.put("dirty-rate", measureDirtyRate(guest, params));
            }
            if (migrateTo != null || saveTo != null) {
                long migrateAt = System.nanoTime() + migrateAfter.toNanos();
                dev.ferry.precopy.Warmup.runUntil(migrateAt);
                if (waitFor(migrateAt - System.nanoTime())) {
                    return finish(guest, report, null, Main.OK);
                }
                out.println(describeStart(policy, params, guest.ramSize()));
                try {
                    controller.migrate(migrateTo != null ? "tcp:" + migrateTo : "file:" + saveTo);
                } catch (QmpError e) {
                    // Already reported as a finished (failed) migration: handled below.
                }
            }
            return awaitEnd(guest, report, start, controller);
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    /**
     * Waits for the end: a migration that completed (the guest is handed over: exit 0), or {@code --run-for}, or a
     * signal. A migration that fails or is aborted is reported at once; the guest keeps running until then, and the
     * exit status says how the last migration ended. One whose handover was not confirmed keeps the guest paused
     * until then (exit 6), unless {@code cont} resumes it.
     */
    private int awaitEnd(InProcessGuest guest, Map<String, Object> report, long start, GuestController controller)
            throws Exception {
        long deadline = runFor == null ? Long.MAX_VALUE : start + runFor.toNanos();
        GuestController.Finished last = null;
        while (true) {
            boolean over = interrupted.getCount() == 0 || System.nanoTime() >= deadline;
            // A migration that ended is handled even when the time is up (it may have ended just now).
            GuestController.Finished f = controller.awaitFinished(over ? Duration.ZERO : Duration.ofMillis(100));
            if (f == null) {
                if (over) {
                    break;
                }
                continue;
            }
            last = f;
            report.put("migration", f.stats().toMap());
            report.put("workload-at-switchover", guest.counters());
            boolean save = f.uri().startsWith("file:");
            String what = save ? "save" : "migration";
            PrecopyLoop.Outcome outcome = f.outcome();
            if (outcome.completed()) {
                if (dumpRam != null && controller.migratedAway()) {
                    RamDump.write(guest, dumpRam);
                }
                printSummary(f.stats(), what, save ? targets.savedFile(f.uri()) : null);
                if (save) {
                    report.put("save", describeSave(targets.savedFile(f.uri()), controller));
                }
                if (controller.migratedAway()) {
                    if (outcome.handoverUnconfirmed()) {
                        // Kept paused here until --run-for or a signal; 'cont' may resume it, and then it may
                        // even migrate again.
                        reportUnconfirmed(outcome);
                        continue;
                    }
                    return finish(guest, report, f.stats(), Main.OK);
                }
                continue; // a snapshot: the guest goes on here
            }
            err.println("ferry run: " + what + " " + (outcome.status() == Status.CANCELLED ? "aborted" : "failed")
                    + ": " + outcome.message());
            err.println(holds.heldBy(GuestController.USER) ? "ferry run: the guest stays here, stopped as 'stop' asked"
                    : "ferry run: the guest keeps running here");
            err.flush();
            if (dumpRam != null) {
                Guest dumping = holds.holder("dump-ram");
                dumping.pause();
                RamDump.write(guest, dumpRam);
                dumping.resume();
            }
            if (migrateTo != null || saveTo != null) {
                // The command line asked for one migration: it ended; wait out --run-for (or a signal).
                waitUntil(start, runFor);
                break;
            }
        }
        if (controller.migrating()) {
            // Time is up (or a signal came) while a migration runs: abandon it and report how it ended.
            controller.cancel("the process is exiting");
            GuestController.Finished f = controller.awaitFinished(Duration.ofSeconds(60));
            if (f != null) {
                last = f;
                report.put("migration", f.stats().toMap());
                err.println("ferry run: migration " + (f.outcome().completed() ? "completed" : "abandoned") + ": "
                        + f.outcome().message());
            }
        }
        int status = Main.OK;
        if (last != null && !last.outcome().completed()) {
            status = last.outcome().status() == Status.CANCELLED ? Main.MIGRATION_ABORTED : Main.MIGRATION_FAILED;
        } else if (last != null && last.outcome().handoverUnconfirmed()) {
            status = Main.HANDOVER_UNCONFIRMED;
            if (!controller.handoverUnconfirmed()) {
                out.println("guest resumed here after the unconfirmed handover");
            }
        }
        return finish(guest, report, last == null ? null : last.stats(), status);
    }

    /**
     * The migration completed but the destination did not confirm the handover: the guest stays paused here, neither
     * resumed (the destination may run it) nor dropped (it may not); {@code cont} on the control socket resumes it.
     */
    private void reportUnconfirmed(PrecopyLoop.Outcome outcome) {
        err.println("ferry run: the destination did not confirm the handover: " + outcome.message());
        err.println("ferry run: it runs the guest if it received the handover, and not otherwise; the guest is kept"
                + " paused here");
        err.println(controlAddress != null
                ? "ferry run: if the destination did not start it, resume it here with 'cont' on the control socket "
                        + controlAddress + "; otherwise stop this process"
                : "ferry run: stop this process once the destination has been checked (with --control, 'cont' could"
                        + " resume it here)");
        err.flush();
    }

    private String describeStart(PrecopyPolicy policy, MigrationParameters params, long ramSize) {
        String where = migrateTo != null ? "migrating to " + migrateTo : "saving to " + saveTo + " ("
                + (mappedRam ? "mapped-ram" + (directIo ? ", O_DIRECT" : "") : "sequential stream") + ")";
        return where + describeParameters(policy, params, migrationOptions.xbzrle, ramSize);
    }

    /** What the start line says of a migration's policy and parameters, after where it goes. */
    static String describeParameters(PrecopyPolicy policy, MigrationParameters params, boolean xbzrle, long ramSize) {
        return " with policy " + policy.describe() + ", downtime-limit " + params.downtimeLimitMillis()
                + " ms, max-bandwidth " + (params.maxBandwidth() == 0 ? "unlimited" : params.maxBandwidth() + " B/s")
                + (xbzrle ? ", xbzrle (" + xbzrleCache(params.xbzrleCacheSize(), ramSize) + ")" : "")
                + (params.autoConverge() ? ", auto-converge" : "");
    }

    /** {@code --calc-dirty-rate}: measures the guest, prints the prediction for this migration's parameters. */
    private Map<String, Object> measureDirtyRate(InProcessGuest guest, MigrationParameters params)
            throws InterruptedException {
        out.println("measuring the dirty rate for " + calcDirtyRate.toMillis() + " ms...");
        dev.ferry.precopy.DirtyRateMeasurement m = GuestController.measureDirtyRate(guest, calcDirtyRate);
        Map<String, Object> r = new LinkedHashMap<>(m.toMap());
        Map<String, Object> p = GuestController.predictions(m, params);
        r.put("prediction", p);
        out.printf(java.util.Locale.ROOT, "dirty rate %.1f MB/s (%s of distinct pages in %d ms)%n",
                m.dirtyRateMBps(), Units.bytes(m.workingSet().pages()[m.workingSet().pages().length - 1] * 4096),
                calcDirtyRate.toMillis());
        for (String k : new String[] {"without-xbzrle", "with-xbzrle"}) {
            @SuppressWarnings("unchecked")
            Map<String, Object> v = (Map<String, Object>) p.get(k);
            out.println("prediction " + k + " at " + p.get("bandwidth") + " B/s, " + p.get("downtime-limit")
                    + " ms: " + (Boolean.TRUE.equals(v.get("converges")) ? "converges in " + v.get("total-time-ms")
                    + " ms, " + v.get("rounds") + " rounds, downtime " + v.get("downtime-ms") + " ms"
                    : "does not converge") + " (" + v.get("reason") + ")");
        }
        return r;
    }

    private int replicate(InProcessGuest guest, Map<String, Object> report, long start, PrecopyPolicy policy,
            MigrationParameters params) throws java.io.IOException {
        long replicateAt = System.nanoTime() + migrateAfter.toNanos();
        dev.ferry.precopy.Warmup.runUntil(replicateAt);
        if (waitFor(replicateAt - System.nanoTime())) {
            return finish(guest, report, null, Main.OK);
        }
        String busy = replication.claim(); // one started on the control socket in the meantime
        if (busy != null) {
            err.println("ferry run: replication to " + replicationOptions.replicateTo + " not started: " + busy);
            waitUntil(start, runFor);
            return finish(guest, report, null, Main.MIGRATION_FAILED);
        }
        Replicate.Started r = Replicate.start(holds.holder(Replicate.HOLDER), replicationOptions, policy, params, out,
                err);
        replication.started(r);
        if (r.failure() != null) {
            err.println("ferry run: replication could not start: " + r.failure()
                    + "; the guest keeps running here, unprotected");
            report.put("replication", r.report());
            waitUntil(start, runFor);
            return finish(guest, report, null, Main.MIGRATION_FAILED);
        }
        waitUntil(start, runFor);
        r = replication.shutdown(SHUTTING_DOWN); // this one, or one the control socket started after it
        report.put("replication", r.report());
        var m = r.stats().toMap();
        out.println("replication: " + m.get("checkpoints") + " checkpoints, pause " + m.get("pause-ms")
                + ", status " + r.stats().status());
        return finish(guest, report, null, "ended".equals(r.stats().status()) ? Main.MIGRATION_FAILED : Main.OK);
    }

    /**
     * Refuses, before any guest starts, option combinations and replication values that cannot work, and save
     * targets that cannot take the save (a FIFO or a device for mapped-ram, a file system without O_DIRECT for
     * --direct-io).
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
        long interval = replicationOptions.checkpointInterval;
        if (interval < Checkpointer.MIN_INTERVAL_MS || interval > Checkpointer.MAX_INTERVAL_MS) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--checkpoint-interval " + interval
                    + " is outside " + Checkpointer.MIN_INTERVAL_MS + ".." + Checkpointer.MAX_INTERVAL_MS + " ms");
        }
        long slab = replicationOptions.slabSize;
        if (!Slabs.validSize(slab)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--slab-size " + slab + " is not a positive multiple of 4 KiB");
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

    private Map<String, Object> describeSave(Path file, GuestController c) throws java.io.IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", file.toString());
        m.put("format", c.capabilities().get("mapped-ram") ? "mapped-ram" : "stream");
        m.put("direct-io", c.directIo());
        if (java.nio.file.Files.isRegularFile(file)) {
            m.put("file-size", java.nio.file.Files.size(file));
            long allocated = FileSpace.allocated(file);
            if (allocated >= 0) {
                m.put("allocated-bytes", allocated);
            }
        }
        return m;
    }

    /**
     * The XBZRLE cache as the migration will hold it ({@link MigrationParameters#xbzrleCacheCapacity}): a cache
     * larger than the guest's RAM takes only that much, though statistics report the parameter, as QEMU's do.
     */
    static String xbzrleCache(long cacheSize, long ramSize) {
        String cache = "cache " + Units.bytes(cacheSize);
        return cacheSize > ramSize ? cache + ", at most the guest's "
                + Units.bytes(MigrationParameters.xbzrleCacheCapacity(cacheSize, ramSize)) + " used" : cache;
    }

    /** Migrates {@code guest} to {@code target}; never throws: the outcome says how it ended. */
    static PrecopyLoop.Outcome migrate(InProcessGuest guest, HostPort target, PrecopyPolicy policy,
            MigrationParameters params, int capabilities, MigrationStats stats, PrintStream out,
            java.util.function.Consumer<PrecopyLoop> started) {
        out.println("migrating to " + target + describeParameters(policy, params,
                (capabilities & dev.ferry.stream.StreamFormat.CAP_XBZRLE) != 0, guest.ramSize()));
        SocketChannel socket;
        try {
            socket = Tcp.connect(target, CONNECT_TIMEOUT);
        } catch (java.io.IOException e) {
            stats.error(e.getMessage());
            stats.status(Status.FAILED);
            return new PrecopyLoop.Outcome(Status.FAILED, e.getMessage());
        }
        WatchedChannel channel = new WatchedChannel(socket, "destination " + target, PEER_TIMEOUT).watchReads(false);
        try (StreamSink sink = new StreamSink(channel, channel, "destination " + target);
                Progress progress = new Progress(stats, out)) {
            PrecopyLoop loop = new PrecopyLoop(guest, sink, policy, params, stats, progress, capabilities,
                    COMPLETION_TIMEOUT);
            started.accept(loop);
            return loop.run();
        }
    }

    private void printSummary(MigrationStats stats, String what, Path savedTo) throws java.io.IOException {
        var m = stats.toMap();
        @SuppressWarnings("unchecked")
        var ram = (Map<String, Object>) m.get("ram");
        out.printf("%s completed in %d ms: downtime %.1f ms, %d rounds, %s %s (%s pages normal, %s zero),"
                        + " %s Mbit/s%n", what, stats.totalTimeMillis(), stats.downtimeMillisPrecise(),
                stats.iterations().size(), Units.bytes(stats.transferred()), savedTo != null ? "written" : "sent",
                ram.get("normal"), ram.get("duplicate"), ram.get("mbps"));
        if (savedTo != null && java.nio.file.Files.isRegularFile(savedTo)) {
            long size = java.nio.file.Files.size(savedTo);
            long allocated = FileSpace.allocated(savedTo);
            out.printf("saved %s (%s): file size %d bytes (%s), %s on disk; guest RAM %d bytes (%s)%n", savedTo,
                    controller.capabilities().get("mapped-ram") ? "mapped-ram" : "stream", size, Units.bytes(size),
                    allocated < 0 ? "unknown" : Units.bytes(allocated), guestRam, Units.bytes(guestRam));
        }
    }

    private int finish(InProcessGuest guest, Map<String, Object> report, MigrationStats stats, int status)
            throws java.io.IOException {
        // A normal exit: a replication the control socket started ends cleanly too (ABORT: the standby does not
        // take over).
        Replicate.Started replicated = replication.shutdown(SHUTTING_DOWN);
        if (replicated != null && !report.containsKey("replication")) {
            report.put("replication", replicated.report());
        }
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
        GuestController c = controller;
        if (c != null) {
            c.cancel("interrupted by a signal");
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
