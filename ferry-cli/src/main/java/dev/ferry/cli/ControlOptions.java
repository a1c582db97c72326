/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.ControlAddress;
import dev.ferry.control.QmpServer;
import java.io.IOException;
import picocli.CommandLine.Option;

/** {@code --control ADDRESS}: a QMP control socket for the process. */
final class ControlOptions {
    @Option(names = "--control", paramLabel = "unix:PATH|tcp:HOST:PORT",
            description = "Serve a QMP-style control socket (docs/control.md). TCP listens on the address given:"
                    + " keep it on loopback unless you mean to expose it.")
    String control;

    /** Opens the socket if asked, or returns null. */
    QmpServer open() throws IOException {
        if (control == null) {
            return null;
        }
        ControlAddress a;
        try {
            a = ControlAddress.parse(control);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--control: " + e.getMessage());
        }
        String v = Main.class.getPackage().getImplementationVersion();
        return QmpServer.open(a, "ferry " + (v == null ? "development build" : v));
    }
}
