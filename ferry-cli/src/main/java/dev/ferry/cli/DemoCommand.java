/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.RamDump;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.memory.Pages;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.MigrationStats;
import dev.ferry.transport.HostPort;
import dev.ferry.util.Units;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ferry demo}: a live migration between two JVMs, verified byte for byte. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Start a destination in a second JVM, run a guest with a write-heavy workload here, migrate it"
                + " live over loopback, and verify the result: the destination's memory check and a byte-for-byte"
                + " comparison of both sides' RAM. Exits 0 only if everything verified."})
public final class DemoCommand implements java.util.concurrent.Callable<Integer> {
    @Mixin
    GuestOptions guestOptions;

    @Mixin
    MigrationOptions migrationOptions;

    @Option(names = "--migrate-after", paramLabel = "DURATION", converter = Converters.Time.class,
            defaultValue = "2s", description = "Let the guest run this long first (default ${DEFAULT-VALUE}).")
    Duration migrateAfter;

    @Option(names = "--keep", description = "Keep the RAM dumps and statistics in the work directory.")
    boolean keep;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("ferry-demo-");
        Path srcDump = work.resolve("source.ram");
        Path dstDump = work.resolve("destination.ram");
        Path dstStats = work.resolve("destination.json");
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        HostPort target = new HostPort("127.0.0.1", port);
        out.println("== Ferry demo: live migration of a running guest between two JVMs ==");
        out.println("destination: starting 'ferry incoming' in a second JVM on " + target);
        Process destination = startDestination(target, dstDump, dstStats);
        CompletableFuture<Void> listening = new CompletableFuture<>();
        Thread pump = Thread.ofPlatform().daemon().start(() -> pump(destination, listening));
        try {
            listening.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            destination.destroyForcibly();
            out.println("demo FAILED: the destination did not start listening");
            return Main.ERROR;
        }
        InProcessGuest guest = InProcessGuest.create(guestOptions.config());
        MigrationStats stats;
        PrecopyLoop.Outcome outcome;
        try {
            guest.resume();
            out.printf("source: guest running: %s of RAM, workload %s on %d vCPU(s); migrating in %d s%n",
                    Units.bytes(guest.ramSize()), guestOptions.workload, guestOptions.vcpus,
                    migrateAfter.toSeconds());
            long migrateAt = System.nanoTime() + migrateAfter.toNanos();
            dev.ferry.precopy.Warmup.run();
            Thread.sleep(Math.max(0, (migrateAt - System.nanoTime()) / 1_000_000));
            out.println("source: workload before migrating: " + guest.counters());
            // Created now, as a migration command would be issued now: total-time and setup-time count from here.
            stats = new MigrationStats(guest.ramSize(), Pages.SIZE);
            outcome = RunCommand.migrate(guest, target, migrationOptions.policy(), migrationOptions.parameters(),
                    migrationOptions.capabilities(), stats, out, loop -> { });
            if (outcome.completed()) {
                RamDump.write(guest, srcDump);
                out.println("source: workload at switchover: " + guest.counters());
            }
        } finally {
            guest.close();
        }
        out.println("source: statistics (query-migrate):");
        out.println(Json.MAPPER.writeValueAsString(summary(stats)));
        if (!outcome.completed()) {
            out.println("demo FAILED: " + outcome.message());
            destination.destroy();
            return Main.MIGRATION_FAILED;
        }
        int dstStatus = destination.waitFor(120, TimeUnit.SECONDS) ? destination.exitValue() : -1;
        pump.join(1000);
        boolean identical = sameContent(srcDump, dstDump);
        out.printf("RAM dumps of source and destination (%s each): %s%n", Units.bytes(Files.size(srcDump)),
                identical ? "byte-identical" : "DIFFERENT");
        out.println("destination exit status: " + dstStatus + (dstStatus == 0 ? " (guest ran and verified)" : ""));
        boolean passed = identical && dstStatus == 0;
        out.println(passed ? "demo PASSED: migrated live, not one byte lost" : "demo FAILED");
        if (keep) {
            Json.write(work.resolve("source.json"), stats.toMap());
            out.println("kept: " + work);
        } else {
            Files.deleteIfExists(srcDump);
            Files.deleteIfExists(dstDump);
            Files.deleteIfExists(dstStats);
            Files.deleteIfExists(work);
        }
        return passed ? Main.OK : Main.CHECK_FAILED;
    }

    /** The figures worth showing on a terminal: the query-migrate fields without the per-round list. */
    private static Map<String, Object> summary(MigrationStats stats) {
        Map<String, Object> m = new java.util.LinkedHashMap<>(stats.toMap());
        m.remove("iterations");
        m.remove("timeline");
        return m;
    }

    private Process startDestination(HostPort target, Path dump, Path statsFile) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "incoming", "--listen",
                target.toString(), "--run-for", "2s", "--verify", "--dump-ram", dump.toString(), "--stats-json",
                statsFile.toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private void pump(Process p, CompletableFuture<Void> listening) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.println("  [destination] " + line);
                if (line.startsWith("listening on")) {
                    listening.complete(null);
                }
            }
        } catch (IOException e) {
            listening.completeExceptionally(e);
        }
        listening.completeExceptionally(new IOException("destination exited"));
    }

    /** Compares two files with vectorised mismatch over memory maps. */
    static boolean sameContent(Path a, Path b) throws IOException {
        if (!Files.exists(a) || !Files.exists(b) || Files.size(a) != Files.size(b)) {
            return false;
        }
        try (FileChannel ca = FileChannel.open(a, StandardOpenOption.READ);
                FileChannel cb = FileChannel.open(b, StandardOpenOption.READ);
                Arena arena = Arena.ofConfined()) {
            long size = ca.size();
            if (size == 0) {
                return true;
            }
            MemorySegment ma = ca.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            MemorySegment mb = cb.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return ma.mismatch(mb) == -1;
        }
    }
}
