/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamDump;
import dev.ferry.memory.AnonymousMemory;
import dev.ferry.snapshot.RestoreStats;
import dev.ferry.snapshot.Snapshots;
import dev.ferry.util.FileErrors;
import dev.ferry.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ferry restore}: loads a snapshot file, verifies it, resumes the guest. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Restore a guest saved with 'ferry run --save-to' (mapped-ram or sequential stream): check the"
                + " file, load RAM and execution state, verify the RAM digest, and resume the guest.",
                "Exit status: 0 the guest ran (and passed --verify); 1 the file is damaged, incomplete or unreadable"
                        + " (no guest was started); 5 the guest's memory check failed."})
public final class RestoreCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "The snapshot file.")
    Path file;

    @Option(names = "--run-for", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Let the resumed guest run this long, then stop (default: until interrupted).")
    Duration runFor;

    @Option(names = "--verify", description = "Before exiting, pause the guest and run its workload's memory check.")
    boolean verify;

    @Option(names = "--dump-ram", paramLabel = "FILE",
            description = "Write the restored RAM to FILE before resuming the guest.")
    Path dumpRam;

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Write the statistics as JSON.")
    Path statsJson;

    @Option(names = "--direct-io", description = "Read a mapped-ram file's page areas with O_DIRECT.")
    boolean directIo;

    @Option(names = "--prealloc", description = "Map and fault in the guest's RAM (its size read from the file)"
            + " before loading (QEMU's -mem-prealloc), so that loading does not pay for first touches of fresh"
            + " memory; reported apart from the load time.")
    boolean prealloc;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final CountDownLatch interrupted = new CountDownLatch(1);

    @picocli.CommandLine.Mixin
    ControlOptions controlOptions;

    private volatile dev.ferry.guest.Guest running;

    @Override
    public Integer call() throws Exception {
        dev.ferry.control.QmpServer qmp = controlOptions.open();
        if (qmp != null) {
            GuestCommands.register(qmp, () -> running, () -> "restore-vm");
            out.println("control socket on " + qmp.address());
        }
        try {
            return restore();
        } finally {
            if (qmp != null) {
                qmp.close();
            }
        }
    }

    private Integer restore() throws Exception {
        RestoreStats stats = new RestoreStats();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("file", file.toString());
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(interrupted::countDown));
        Guest guest;
        try {
            if (prealloc) {
                long size = Snapshots.ramSize(file);
                long t = System.nanoTime();
                try {
                    AnonymousMemory.preallocate(size, Runtime.getRuntime().availableProcessors());
                } catch (OutOfMemoryError e) {
                    throw new IOException("--prealloc: " + e.getMessage(), e);
                }
                long ms = (System.nanoTime() - t) / 1_000_000;
                report.put("prealloc-ms", ms);
                out.printf("preallocated %s of guest RAM in %d ms%n", Units.bytes(size), ms);
            }
            stats = new RestoreStats();
            guest = Snapshots.restore(file, directIo, stats);
        } catch (IOException | GuestException e) {
            String m = e instanceof java.nio.file.NoSuchFileException ? file + ": no such file"
                    : e instanceof java.nio.file.FileSystemException f ? "cannot read " + FileErrors.describe(f)
                    : e.getMessage() != null ? e.getMessage() : e.toString();
            err.println("ferry restore: " + m + "; no guest was started");
            return finish(report, stats, Main.ERROR);
        }
        try {
            double ms = stats.loadMillis();
            out.printf(Locale.ROOT, "restored %s (%s): %s of RAM, %s read in %.0f ms (%.0f MB/s); RAM digest and"
                            + " execution state verified%n", file, stats.toMap().get("format"),
                    Units.bytes(guest.ramSize()), Units.bytes(stats.bytesRead()), ms,
                    ms > 0 ? stats.bytesRead() / (ms / 1e3) / 1e6 : 0);
            if (dumpRam != null) {
                RamDump.write(guest, dumpRam);
            }
            report.put("guest", guest.descriptor().properties());
            report.put("workload-at-resume", guest.counters());
            guest.resume();
            running = guest;
            out.printf("guest resumed: %s of RAM, %s%n", Units.bytes(guest.ramSize()), guest.counters());
            out.flush();
            if (!GuestRun.portOpens(guest, "restore", err, report)) {
                return finish(report, stats, Main.ERROR); // the snapshot is still there, to restore once it is free
            }
            int status = GuestRun.runThenCheck(guest, runFor, interrupted, verify, report, out);
            return finish(report, stats, status);
        } finally {
            guest.close();
        }
    }

    private int finish(Map<String, Object> report, RestoreStats stats, int status) throws IOException {
        report.put("restore", stats.toMap());
        report.put("exit-status", status);
        if (statsJson != null) {
            Json.write(statsJson, report);
        }
        return status;
    }
}
