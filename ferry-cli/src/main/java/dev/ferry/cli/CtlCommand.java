/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.control.ControlAddress;
import dev.ferry.control.QmpClient;
import dev.ferry.control.QmpServer;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ferry ctl}: sends one command to a control socket and prints the answer; or follows its events. */
@Command(name = "ctl", mixinStandardHelpOptions = true,
        description = {"Send a QMP command to a Ferry process's control socket and print the answer (one JSON line).",
                "Examples:  ferry ctl unix:/tmp/f.sock query-migrate",
                "           ferry ctl unix:/tmp/f.sock migrate-set-parameters '{\"max-bandwidth\": 50000000}'",
                "           ferry ctl unix:/tmp/f.sock --events",
                "Exit status: 0 the command returned; 1 it failed (the error is printed) or the socket is"
                        + " unreachable; 2 bad arguments."})
public final class CtlCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ADDRESS", description = "unix:PATH or tcp:HOST:PORT")
    String address;

    @Parameters(index = "1", arity = "0..1", paramLabel = "COMMAND", description = "e.g. query-status, migrate")
    String command;

    @Parameters(index = "2", arity = "0..1", paramLabel = "JSON-ARGUMENTS", description = "the command's arguments")
    String arguments;

    @Option(names = "--events", description = "Print the events as they come (after the command, if any), one JSON"
            + " line each, until interrupted or --events-for ends.")
    boolean events;

    @Option(names = "--events-for", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Print the events (as --events does) for this long, then stop.")
    Duration eventsFor;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = Converters.Time.class, defaultValue = "10s",
            description = "How long to try reaching the socket and to wait for its greeting (default"
                    + " ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--answer-timeout", paramLabel = "DURATION", converter = Converters.Time.class,
            defaultValue = "60s", description = "How long to wait for the answer to COMMAND (default"
                    + " ${DEFAULT-VALUE}).")
    Duration answerTimeout;

    private final PrintStream err = System.err;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (eventsFor != null) {
            events = true;
        }
        if (command == null && !events) {
            throw new IllegalArgumentException("give a COMMAND, or --events");
        }
        ObjectNode args = null;
        if (arguments != null) {
            JsonNode parsed;
            try {
                parsed = QmpServer.JSON.readTree(arguments);
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("JSON-ARGUMENTS is not JSON: "
                        + e.getMessage().lines().findFirst().orElse(""));
            }
            if (!parsed.isObject()) {
                throw new IllegalArgumentException("JSON-ARGUMENTS must be a JSON object");
            }
            args = (ObjectNode) parsed;
        }
        ControlAddress a = ControlAddress.parse(address);
        try (QmpClient c = QmpClient.connect(a, timeout)) {
            int status = Main.OK;
            if (command != null) {
                JsonNode reply = c.call(command, args, answerTimeout);
                out.println(QmpServer.JSON.writeValueAsString(reply));
                out.flush();
                if (reply.has("error")) {
                    status = Main.ERROR;
                }
            }
            if (events) {
                long start = System.nanoTime();
                long length = eventsFor == null ? Long.MAX_VALUE : eventsFor.toNanos();
                while (System.nanoTime() - start < length) {
                    JsonNode e = c.nextEvent(Duration.ofMillis(200));
                    if (e != null) {
                        out.println(QmpServer.JSON.writeValueAsString(e));
                        out.flush();
                    } else if (c.closed()) {
                        // The process ended (or its socket sent something unreadable): no event will come now.
                        err.println("ferry ctl: no more events: " + c.closedBecause());
                        break;
                    }
                }
            }
            return status;
        }
    }
}
