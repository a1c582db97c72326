/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.QmpError;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.replication.Checkpointer;
import dev.ferry.transport.HostPort;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The primary's replication commands on the control socket (Ferry's own: QEMU has no micro-checkpointing):
 * {@code x-ferry-replication-start {uri, checkpoint-interval, output-buffering}}, {@code x-ferry-replication-stop},
 * {@code x-ferry-query-replication}. Events: {@code FERRY_REPLICATION {status}}.
 */
final class ReplicationControl {
    private static volatile Replicate.Started current;

    private ReplicationControl() {
    }

    /** The replication the command line started, so that the control socket sees it too. */
    static void started(Replicate.Started r) {
        current = r;
    }

    static void register(QmpServer s, InProcessGuest guest, ReplicationOptions defaults, PrecopyPolicy policy,
            MigrationParameters params, PrintStream out, PrintStream err) {
        s.register("x-ferry-replication-start", a -> {
            for (var it = a.fieldNames(); it.hasNext();) {
                String f = it.next();
                if (!Set.of("uri", "checkpoint-interval", "output-buffering").contains(f)) {
                    throw QmpError.generic("Parameter '" + f + "' is unexpected");
                }
            }
            Replicate.Started r = current;
            if (r != null && r.checkpointer() != null && !"ended".equals(r.stats().status())
                    && !"stopped".equals(r.stats().status())) {
                throw QmpError.generic("Replication is already running");
            }
            String uri = a.path("uri").asText("");
            if (!uri.startsWith("tcp:")) {
                throw QmpError.generic("Invalid replication URI '" + uri + "': use tcp:HOST:PORT");
            }
            ReplicationOptions o = new ReplicationOptions();
            try {
                o.replicateTo = HostPort.parse(uri.substring(4));
            } catch (IllegalArgumentException e) {
                throw QmpError.generic(e.getMessage());
            }
            o.checkpointInterval = a.has("checkpoint-interval") ? a.get("checkpoint-interval").asLong()
                    : defaults.checkpointInterval;
            long interval = o.checkpointInterval;
            if (interval < Checkpointer.MIN_INTERVAL_MS || interval > Checkpointer.MAX_INTERVAL_MS) {
                throw QmpError.generic("Parameter 'checkpoint-interval' expects a value between "
                        + Checkpointer.MIN_INTERVAL_MS + " and " + Checkpointer.MAX_INTERVAL_MS);
            }
            o.noOutputBuffering = a.has("output-buffering") && !a.get("output-buffering").asBoolean();
            o.slabSize = defaults.slabSize;
            Thread.ofPlatform().name("replication start").start(() -> {
                s.emit("FERRY_REPLICATION", Map.of("status", "seeding"));
                Replicate.Started started = Replicate.start(guest, o, policy, params, out, err);
                current = started;
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
            Replicate.Started r = current;
            if (r == null || r.checkpointer() == null) {
                throw QmpError.generic("Replication is not running");
            }
            r.checkpointer().stop("replication stopped by the user");
            s.emit("FERRY_REPLICATION", Map.of("status", r.stats().status()));
            return null;
        });
        s.register("x-ferry-query-replication", a -> {
            Replicate.Started r = current;
            return r == null ? Map.of("status", "none") : r.report();
        });
    }
}
