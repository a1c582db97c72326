/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.control.ControlAddress;
import dev.ferry.control.QmpClient;
import dev.ferry.control.QmpError;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.policy.XenPolicy;
import dev.ferry.precopy.MigrationParameters;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control socket's replication commands, against a guest and a control server in this JVM. */
class ReplicationControlTest {
    private static final Duration LONG = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** A guest with the replication commands on a control socket, and a client connected to it. */
    private final class Primary implements AutoCloseable {
        final InProcessGuest guest = InProcessGuest.create(new InProcessConfig(new long[] {8L << 20}, 1,
                "memtest,start=0,end=4M", 5, 0));
        final ReplicationControl replication = new ReplicationControl();
        final QmpServer server;
        final QmpClient client;

        Primary() throws Exception {
            guest.resume();
            ControlAddress address = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
            server = QmpServer.open(address, "ferry test");
            ReplicationOptions defaults = new ReplicationOptions();
            defaults.checkpointInterval = 100;
            defaults.slabSize = 1 << 20;
            PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
            replication.register(server, guest, defaults, new XenPolicy(), new MigrationParameters(), quiet, quiet);
            client = QmpClient.connect(address, Duration.ofSeconds(10));
        }

        JsonNode start(String arguments) throws Exception {
            return client.execute("x-ferry-replication-start", QmpServer.JSON.readTree(arguments));
        }

        @Override
        public void close() throws Exception {
            client.close();
            server.close();
            guest.close();
        }
    }

    private static void assertRefused(ThrowingCall call, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(QmpError.class,
                e -> assertThat(e.getMessage()).contains(message));
    }

    @FunctionalInterface
    private interface ThrowingCall {
        void run() throws Exception;
    }

    @Test
    void argumentsOfTheWrongTypeAreRefused() throws Exception {
        try (Primary p = new Primary()) {
            // Port 1 would refuse the connection: nothing here may get as far as connecting.
            String uri = "\"uri\": \"tcp:127.0.0.1:1\"";
            assertRefused(() -> p.start("{" + uri + ", \"output-buffering\": \"yes\"}"),
                    "Invalid parameter type for 'output-buffering', expected: boolean");
            assertRefused(() -> p.start("{" + uri + ", \"checkpoint-interval\": \"200\"}"),
                    "Invalid parameter type for 'checkpoint-interval', expected: integer");
            assertRefused(() -> p.start("{" + uri + ", \"checkpoint-interval\": 2.5}"),
                    "Invalid parameter type for 'checkpoint-interval', expected: integer");
            assertRefused(() -> p.start("{" + uri + ", \"checkpoint-interval\": 5}"),
                    "Parameter 'checkpoint-interval' expects a value between 10 and 60000");
            assertRefused(() -> p.start("{\"uri\": 4445}"), "Invalid parameter type for 'uri', expected: string");
            assertRefused(() -> p.start("{}"), "Parameter 'uri' is missing");
            assertRefused(() -> p.start("{" + uri + ", \"buffering\": true}"), "Parameter 'buffering' is unexpected");
            assertThat(p.client.execute("x-ferry-query-replication", null).get("status").asText()).isEqualTo("none");
        }
    }

    @Test
    void aSecondStartWhileTheFirstSeedsIsRefused() throws Exception {
        try (Primary p = new Primary(); ServerSocket standby = new ServerSocket(0)) {
            p.start("{\"uri\": \"tcp:127.0.0.1:" + standby.getLocalPort() + "\", \"output-buffering\": true}");
            assertThat(p.client.awaitEvent("FERRY_REPLICATION", LONG).at("/data/status").asText())
                    .isEqualTo("seeding");
            try (Socket silent = standby.accept()) {
                // The standby never answers: the seed stays in progress.
                assertRefused(() -> p.start("{\"uri\": \"tcp:127.0.0.1:" + standby.getLocalPort() + "\"}"),
                        "Replication is already starting: the standby is being seeded");
            }
            JsonNode end = p.client.awaitEvent("FERRY_REPLICATION", LONG);
            assertThat(end.at("/data/status").asText()).as(end.toString()).isEqualTo("failed");
        }
    }
}
