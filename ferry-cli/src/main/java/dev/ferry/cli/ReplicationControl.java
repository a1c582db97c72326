/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.Args;
import dev.ferry.control.QmpError;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.Guest;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.replication.Checkpointer;
import dev.ferry.transport.HostPort;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The primary's one replication, whether the command line or the control socket started it, and its commands on the
 * control socket (Ferry's own: QEMU has no micro-checkpointing): {@code x-ferry-replication-start {uri,
 * checkpoint-interval, output-buffering}}, {@code x-ferry-replication-stop}, {@code x-ferry-query-replication}.
 * Events: {@code FERRY_REPLICATION {status}}. One replication at a time: a start is refused while another seeds or
 * runs. When the primary exits normally, {@link #shutdown} ends whatever runs with an ABORT: the standby does not
 * take over.
 */
final class ReplicationControl {
    /** How long an exit waits for a seed in progress to end, so that it can tell the standby not to take over. */
    private static final long SEED_WAIT_MILLIS = TimeUnit.SECONDS.toMillis(15); // a signal allows the exit 20 s

    private final Object lock = new Object();
    private Replicate.Started current;
    private boolean seeding;
    private boolean shutDown;

    /**
     * Claims the guest's replication for a start: null if granted (then {@link #started} must follow), otherwise why
     * another replication cannot start now.
     */
    String claim() {
        synchronized (lock) {
            if (shutDown) {
                return "The primary is shutting down";
            }
            if (seeding) {
                return "Replication is already starting: the standby is being seeded";
            }
            Replicate.Started r = current;
            if (r != null && r.checkpointer() != null && !"ended".equals(r.stats().status())
                    && !"stopped".equals(r.stats().status())) {
                return "Replication is already running";
            }
            seeding = true;
            return null;
        }
    }

    /** The start granted by {@link #claim} is seeded, or failed; if the primary shut down meanwhile, it stops now. */
    void started(Replicate.Started r) {
        boolean stop;
        synchronized (lock) {
            current = r;
            seeding = false;
            stop = shutDown && r.checkpointer() != null;
            lock.notifyAll();
        }
        if (stop) {
            r.checkpointer().stop("the primary is shutting down");
        }
    }

    /**
     * The primary exits: ends the replication that runs (the standby is told, with an ABORT, not to take over) and
     * refuses new ones. A seed in progress is waited for (a while), then stopped in {@link #started}. Returns the
     * last replication, or null if none ever started.
     */
    Replicate.Started shutdown(String reason) {
        Replicate.Started r;
        synchronized (lock) {
            shutDown = true;
            long deadline = System.currentTimeMillis() + SEED_WAIT_MILLIS;
            while (seeding && System.currentTimeMillis() < deadline) {
                try {
                    lock.wait(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            r = current;
        }
        if (r != null && r.checkpointer() != null && "protecting".equals(r.stats().status())) {
            r.checkpointer().stop(reason);
        }
        return r;
    }

    void register(QmpServer s, Guest guest, ReplicationOptions defaults, PrecopyPolicy policy,
            MigrationParameters params, PrintStream out, PrintStream err) {
        s.register("x-ferry-replication-start", a -> {
            Args.only(a, Set.of("uri", "checkpoint-interval", "output-buffering"));
            String uri = Args.string(a, "uri", null);
            if (!uri.startsWith("tcp:")) {
                throw QmpError.generic("Invalid replication URI '" + uri + "': use tcp:HOST:PORT");
            }
            ReplicationOptions o = new ReplicationOptions();
            try {
                o.replicateTo = HostPort.parse(uri.substring(4));
            } catch (IllegalArgumentException e) {
                throw QmpError.generic(e.getMessage());
            }
            Long interval = Args.integer(a, "checkpoint-interval", Checkpointer.MIN_INTERVAL_MS,
                    Checkpointer.MAX_INTERVAL_MS);
            o.checkpointInterval = interval != null ? interval : defaults.checkpointInterval;
            o.noOutputBuffering = Boolean.FALSE.equals(Args.bool(a, "output-buffering"));
            o.slabSize = defaults.slabSize;
            String refused = claim();
            if (refused != null) {
                throw QmpError.generic(refused);
            }
            Thread.ofPlatform().name("replication start").start(() -> {
                s.emit("FERRY_REPLICATION", Map.of("status", "seeding"));
                Replicate.Started started;
                try {
                    started = Replicate.start(guest, o, policy, params, out, err);
                } catch (RuntimeException e) {
                    // e.g. the guest closed under the seed as the primary exits
                    started = Replicate.failed(e.getMessage() != null ? e.getMessage() : e.toString());
                }
                started(started);
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("status", started.failure() == null ? "protecting" : "failed");
                if (started.failure() != null) {
                    data.put("error-desc", started.failure());
                }
                s.emit("FERRY_REPLICATION", data);
            });
            return null;
        });
        s.register("x-ferry-replication-stop", a -> {
            Replicate.Started r;
            synchronized (lock) {
                r = current;
            }
            if (r == null || r.checkpointer() == null) {
                throw QmpError.generic("Replication is not running");
            }
            r.checkpointer().stop("replication stopped by the user");
            s.emit("FERRY_REPLICATION", Map.of("status", r.stats().status()));
            return null;
        });
        s.register("x-ferry-query-replication", a -> {
            Replicate.Started r;
            synchronized (lock) {
                r = current;
            }
            return r == null ? Map.of("status", "none") : r.report();
        });
    }
}
