/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.Args;
import dev.ferry.control.QmpError;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.Guest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The control commands of a process whose guest arrives later (a destination, a standby, a restore):
 * {@code query-status} says {@code inmigrate} until the guest runs; {@code stop} and {@code cont} act on it then.
 */
final class GuestCommands {
    private GuestCommands() {
    }

    static void register(QmpServer s, Supplier<Guest> guest, Supplier<String> stateWithoutGuest) {
        s.register("query-status", a -> {
            Args.only(a, Set.of());
            Guest g = guest.get();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("running", g != null && !g.isPaused());
            m.put("status", g == null ? stateWithoutGuest.get() : g.isPaused() ? "paused" : "running");
            return m;
        });
        s.register("stop", a -> {
            Args.only(a, Set.of());
            Guest g = running(guest);
            if (!g.isPaused()) {
                g.pause();
                s.emit("STOP", null);
            }
            return null;
        });
        s.register("cont", a -> {
            Args.only(a, Set.of());
            Guest g = running(guest);
            if (g.isPaused()) {
                g.resume();
                s.emit("RESUME", null);
            }
            return null;
        });
    }

    private static Guest running(Supplier<Guest> guest) throws QmpError {
        Guest g = guest.get();
        if (g == null) {
            throw QmpError.generic("The guest is not running here yet");
        }
        return g;
    }
}
