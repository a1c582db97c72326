/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamDump;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.MigrationAbortedException;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.StreamFormat;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import dev.ferry.util.Units;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry incoming}: receives one migration, verifies it, resumes the guest. */
@Command(name = "incoming", mixinStandardHelpOptions = true,
        description = {"Accept one live migration, load and verify it, and resume the guest.",
                "Exit status: 0 the guest ran (and passed --verify); 1 the migration failed, 4 the source aborted"
                        + " it (no guest started); 5 the guest's memory check failed."})
public final class IncomingCommand implements Callable<Integer> {
    @Option(names = "--listen", paramLabel = "HOST:PORT", converter = Converters.Address.class,
            description = "Address to accept the migration on. Without it (and with --control), the address comes"
                    + " later with the control command migrate-incoming {\"uri\": \"tcp:HOST:PORT\"}.")
    HostPort listen;

    @picocli.CommandLine.Mixin
    ControlOptions controlOptions;

    @Option(names = "--run-for", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Let the resumed guest run this long, then stop (default: until interrupted).")
    Duration runFor;

    @Option(names = "--verify", description = "Before exiting, pause the guest and run its workload's memory check.")
    boolean verify;

    @Option(names = "--dump-ram", paramLabel = "FILE",
            description = "Write the loaded RAM to FILE before resuming the guest.")
    Path dumpRam;

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Write the statistics as JSON.")
    Path statsJson;

    @Option(names = "--peer-timeout", paramLabel = "DURATION", converter = Converters.Time.class,
            defaultValue = "30s", description = "Give up when the source sends nothing this long (default ${DEFAULT-VALUE}).")
    Duration peerTimeout;

    @Option(names = "--prealloc", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "Allocate and fault in this much guest RAM before listening (QEMU's -mem-prealloc), so the"
                    + " migration does not pay for first touches of fresh memory.")
    Long prealloc;

    @Option(names = "--no-xbzrle", description = "Refuse sources that ask for XBZRLE (as a Ferry without it would).")
    boolean noXbzrle;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final CountDownLatch interrupted = new CountDownLatch(1);

    private volatile Guest running;

    @Override
    public Integer call() throws Exception {
        if (prealloc != null) {
            // Checked before the warm-up: faulting in more than the machine has would get the process killed.
            long physical = dev.ferry.memory.MachineMemory.physicalBytes();
            if (prealloc <= 0 || prealloc > physical) {
                throw new IllegalArgumentException("--prealloc " + prealloc + " is outside 1.."
                        + physical + " bytes (this machine's RAM)");
            }
        }
        if (listen == null && controlOptions.control == null) {
            throw new IllegalArgumentException("Missing required option: '--listen=HOST:PORT' (or --control and"
                    + " migrate-incoming)");
        }
        if (listen != null) {
            Tcp.resolve(listen, "listen on"); // before the warm-up: a host that does not resolve fails at once
        }
        IncomingStats stats = new IncomingStats();
        dev.ferry.control.QmpServer server = controlOptions.open();
        try {
            return receive(stats, server);
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private Integer receive(IncomingStats stats, dev.ferry.control.QmpServer qmp) throws Exception {
        java.util.concurrent.CompletableFuture<HostPort> address = new java.util.concurrent.CompletableFuture<>();
        if (listen != null) {
            address.complete(listen);
        }
        if (qmp != null) {
            GuestCommands.register(qmp, () -> running, () -> "inmigrate");
            qmp.register("query-migrate", a -> {
                dev.ferry.control.Args.only(a, java.util.Set.of());
                Map<String, Object> m = new LinkedHashMap<>(stats.toMap());
                m.put("status", switch (stats.status()) {
                    case "listening" -> "setup";
                    case "receiving", "verified" -> "active";
                    case "failed" -> "failed";
                    default -> "completed";
                });
                return m;
            });
            qmp.register("migrate-incoming", a -> {
                dev.ferry.control.Args.only(a, java.util.Set.of("uri"));
                String uri = dev.ferry.control.Args.string(a, "uri", null);
                if (!uri.startsWith("tcp:")) {
                    throw dev.ferry.control.QmpError.generic("Invalid incoming URI '" + uri
                            + "': use tcp:HOST:PORT");
                }
                if (address.isDone()) {
                    throw dev.ferry.control.QmpError.generic("The incoming migration has already been started");
                }
                try {
                    address.complete(HostPort.parse(uri.substring(4)));
                } catch (IllegalArgumentException e) {
                    throw dev.ferry.control.QmpError.generic(e.getMessage());
                }
                return null;
            });
            out.println("control socket on " + qmp.address());
            out.flush();
        }
        Map<String, Object> report = new LinkedHashMap<>();
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(interrupted::countDown));
        Guest guest;
        // Before listening, so that "listening" means ready: the full warm-up (the destination's per-frame loops
        // need some hundreds of frames to be optimised), then the preallocation (after it: the warm-up's small
        // guests must not take the preallocated memory).
        dev.ferry.precopy.Warmup.runFull();
        if (prealloc != null) {
            long t = System.nanoTime();
            dev.ferry.memory.AnonymousMemory.preallocate(prealloc, Runtime.getRuntime().availableProcessors());
            out.printf("preallocated %s of guest RAM in %d ms%n", Units.bytes(prealloc),
                    (System.nanoTime() - t) / 1_000_000);
        }
        HostPort where;
        try {
            where = address.get();
        } catch (InterruptedException e) {
            return Main.ERROR;
        }
        try (ServerSocketChannel server = Tcp.listen(where)) {
            out.println("listening on " + server.getLocalAddress().toString().replaceFirst("^/", ""));
            out.flush();
            SocketChannel socket = Tcp.accept(server);
            String peer = Tcp.describe(socket);
            out.println("incoming migration from " + peer);
            WatchedChannel channel = new WatchedChannel(socket, "source " + peer, peerTimeout);
            try {
                FrameReader reader = new FrameReader(channel, "migration stream from " + peer);
                int supported = StreamFormat.KNOWN_CAPABILITIES & (noXbzrle ? ~StreamFormat.CAP_XBZRLE : ~0);
                guest = new StreamLoader(reader, channel, supported, stats).load();
            } catch (MigrationAbortedException e) {
                err.println("ferry incoming: " + e.getMessage() + "; no guest was started");
                return finish(report, stats, Main.MIGRATION_ABORTED);
            } catch (IOException | GuestException e) {
                err.println("ferry incoming: migration failed: " + e.getMessage() + "; no guest was started");
                return finish(report, stats, Main.ERROR);
            } finally {
                channel.close();
            }
        }
        try {
            if (dumpRam != null) {
                RamDump.write(guest, dumpRam);
            }
            report.put("guest", guest.descriptor().properties());
            report.put("workload-at-resume", guest.counters());
            guest.resume();
            running = guest;
            stats.status("running");
            if (qmp != null) {
                qmp.emit("MIGRATION", Map.of("status", "completed"));
            }
            out.printf("guest resumed: %s of RAM, %s%n", Units.bytes(guest.ramSize()), guest.counters());
            out.flush();
            if (stats.handoverAckFailure() != null) {
                err.println("ferry incoming: warning: the handover could not be confirmed to the source ("
                        + stats.handoverAckFailure() + "); it keeps its copy of the guest paused: stop it, the guest"
                        + " runs here");
                err.flush();
            }
            // The source has handed its guest over: this is the only copy, and it runs on even if its clients
            // cannot reach it (it can still migrate elsewhere). The port is watched without holding up the run.
            Thread.ofVirtual().name("port watch").start(() -> {
                try {
                    String cannot = GuestRun.awaitPort(guest);
                    if (cannot != null) {
                        err.println("ferry incoming: warning: " + cannot + "; the guest runs on here, but its clients"
                                + " cannot reach it");
                        err.flush();
                    }
                } catch (InterruptedException ignored) {
                    // exiting
                }
            });
            int status = GuestRun.runThenCheck(guest, runFor, interrupted, verify, report, out);
            stats.status("finished");
            return finish(report, stats, status);
        } finally {
            guest.close();
        }
    }

    private int finish(Map<String, Object> report, IncomingStats stats, int status) throws IOException {
        report.put("incoming", stats.toMap());
        report.put("exit-status", status);
        if (statsJson != null) {
            Json.write(statsJson, report);
        }
        return status;
    }
}
