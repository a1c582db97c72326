/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.control.ControlAddress;
import dev.ferry.control.QmpClient;
import dev.ferry.control.QmpServer;
import dev.ferry.guest.inprocess.device.RespClient;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A primary replicating a kv guest to a standby in another JVM, killed with SIGKILL at random moments. */
class ReplicationEndToEndTest {
    private static final Duration LONG = Duration.ofSeconds(120);
    /** Trials of the kill test; CI runs a few, {@code -Dferry.trials=20} runs the twenty. */
    private static final int TRIALS = Integer.getInteger("ferry.trials", 3);

    @TempDir
    Path dir;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void everyAcknowledgedWriteSurvivesTheKillOfThePrimary() throws Exception {
        SplittableRandom random = new SplittableRandom(20140218);
        for (int trial = 0; trial < TRIALS; trial++) {
            int port = freePort();
            long killAfter = 200 + random.nextInt(1800);
            Path stats = dir.resolve("standby-" + trial + ".json");
            try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0", "--run-for", "4s",
                    "--verify", "--stats-json", stats.toString())) {
                int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
                try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                        "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort)) {
                    primary.await("standby seeded", LONG);
                    try (PipelinedWriter w = new PipelinedWriter(port, "t" + trial)) {
                        Thread.sleep(killAfter);
                        primary.kill();
                        w.awaitEnd();
                        int acked = w.acknowledged();
                        assertThat(acked).as("trial %d: writes acknowledged before the kill", trial).isPositive();
                        try (RespClient c = connectWithRetry(port)) {
                            java.util.List<String[]> gets = new java.util.ArrayList<>();
                            for (int i = 0; i < acked; i++) {
                                gets.add(new String[] {"GET", "t" + trial + "-k" + i});
                            }
                            java.util.List<String> values = c.pipeline(gets);
                            for (int i = 0; i < acked; i++) {
                                assertThat(values.get(i))
                                        .as("trial %d (kill after %d ms): key %d of %d acknowledged", trial, killAfter,
                                                i, acked)
                                        .isEqualTo("$v" + i);
                            }
                            System.out.printf("trial %d: primary killed %d ms after seeding; %d writes acknowledged,"
                                    + " all %d present on the standby%n", trial, killAfter, acked, acked);
                        }
                    }
                }
                assertThat(standby.exit(LONG)).as(standby.output()).isZero();
                assertThat(standby.output()).contains("failover: resuming the guest").contains("verify: PASS");
            }
            JsonNode s = Json.MAPPER.readTree(stats.toFile());
            assertThat(s.at("/standby/failed-over").asBoolean()).isTrue();
        }
    }

    // The primaries' --run-for counts from their start and leaves room for the JIT warm-up before seeding (3-4 s on a
    // slow day of this machine), then for the checkpoints the test needs.
    @Test
    void primaryThatStopsDoesNotMakeTheStandbyTakeOver() throws Exception {
        int port = freePort();
        Path primaryStats = dir.resolve("primary.json");
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort, "--checkpoint-interval", "50",
                    "--run-for", "8s", "--stats-json", primaryStats.toString())) {
                primary.await("standby seeded", LONG);
                try (RespClient c = new RespClient(port, 10_000)) {
                    for (int i = 0; i < 20; i++) {
                        assertThat(c.call("SET", "k" + i, "v")).isEqualTo("+OK");
                    }
                }
                assertThat(primary.exit(LONG)).as(primary.output()).isZero();
            }
            assertThat(standby.exit(LONG)).as(standby.output()).isZero();
            assertThat(standby.output()).contains("the primary stopped replication").contains("did not take over");
        }
        JsonNode r = Json.MAPPER.readTree(primaryStats.toFile()).at("/replication");
        assertThat(r.at("/checkpoints").asLong()).isGreaterThan(20);
        assertThat(r.at("/output/released-bytes").asLong()).isEqualTo(20 * 5);
        assertThat(r.at("/pause-ms/p99").asDouble()).isGreaterThan(0);
        assertThat(r.at("/slabs/in-use").asLong()).isEqualTo(1);
    }

    @Test
    void standbyThatDisappearsLeavesThePrimaryRunningUnprotected() throws Exception {
        int port = freePort();
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort, "--run-for", "10s")) {
                primary.await("standby seeded", LONG);
                standby.kill();
                primary.await("replication ended: .*the guest keeps running, unprotected", LONG);
                try (RespClient c = new RespClient(port, 5_000)) {
                    // Output is no longer held: the answer comes at once.
                    assertThat(c.call("SET", "alone", "1")).isEqualTo("+OK");
                }
                assertThat(primary.exit(LONG)).isEqualTo(Main.MIGRATION_FAILED);
            }
        }
    }

    @Test
    void failoverThatCannotListenOnTheGuestsPortSaysWhyAndFails() throws Exception {
        int port = freePort();
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0", "--heartbeat-timeout",
                "500", "--run-for", "1s")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort)) {
                primary.await("standby seeded", LONG);
                // Frozen, the primary falls silent but keeps the guest's port: the standby takes over and cannot
                // listen on it (the device retries for 30 s).
                primary.signal("STOP");
                assertThat(standby.exit(LONG)).as(standby.output()).isEqualTo(Main.ERROR);
            }
            assertThat(standby.output()).contains("failover: resuming the guest")
                    .contains("ferry standby: failover failed: cannot listen on 127.0.0.1:" + port + ": ")
                    .doesNotContain("null").doesNotContain("serving port");
        }
    }

    @Test
    void standbyFrozenLongerThanItsHeartbeatTimeoutDoesNotTakeOverFromALivePrimary() throws Exception {
        int port = freePort();
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0", "--run-for", "1s")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort, "--run-for", "20s")) {
                primary.await("standby seeded", LONG);
                Thread.sleep(500);
                // Twice the standby's 2 s heartbeat timeout: when it wakes, the primary's frames are waiting for it.
                standby.signal("STOP");
                Thread.sleep(4000);
                standby.signal("CONT");
                assertThat(primary.exit(LONG)).as(primary.output()).isZero();
            }
            assertThat(standby.exit(LONG)).as(standby.output()).isZero();
            assertThat(standby.output()).contains("the primary stopped replication").doesNotContain("failover");
        }
    }

    @Test
    void primaryThatExitsAfterAReplicationStartedOnTheControlSocketEndsItCleanly() throws Exception {
        int port = freePort();
        Path sock = dir.resolve("run.sock");
        Path primaryStats = dir.resolve("primary.json");
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0", "--run-for", "1s")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--control", "unix:" + sock, "--run-for", "15s", "--stats-json",
                    primaryStats.toString())) {
                primary.await("control socket on", LONG);
                try (QmpClient c = QmpClient.connect(ControlAddress.parse("unix:" + sock),
                        Duration.ofSeconds(30))) {
                    c.execute("x-ferry-replication-start", QmpServer.JSON.readTree(
                            "{\"uri\": \"tcp:127.0.0.1:" + standbyPort + "\"}"));
                    JsonNode e;
                    do {
                        e = c.awaitEvent("FERRY_REPLICATION", LONG);
                    } while ("seeding".equals(e.at("/data/status").asText()));
                    assertThat(e.at("/data/status").asText()).as(e.toString()).isEqualTo("protecting");
                    // A stopped guest stays stopped: the checkpoints' pauses and resumes do not undo the user's.
                    c.execute("stop", null);
                    Thread.sleep(600); // several 100 ms checkpoints
                    assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("paused");
                    c.execute("cont", null);
                    assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("running");
                }
                assertThat(primary.exit(LONG)).as(primary.output()).isZero();
            }
            assertThat(standby.exit(LONG)).as(standby.output()).isZero();
            assertThat(standby.output()).contains("the primary stopped replication: the primary is shutting down")
                    .doesNotContain("failover");
        }
        JsonNode r = Json.MAPPER.readTree(primaryStats.toFile()).at("/replication");
        assertThat(r.at("/status").asText()).isEqualTo("stopped");
        assertThat(r.at("/checkpoints").asLong()).isPositive();
    }

    private static RespClient connectWithRetry(int port) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                return new RespClient(port, 10_000);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /**
     * Sends SETs of distinct keys without waiting for each answer (at most 512 outstanding) and counts the +OK
     * answers, which arrive in order: the first {@link #acknowledged()} keys were acknowledged.
     */
    static final class PipelinedWriter implements AutoCloseable {
        private final Socket socket;
        private final Thread sender;
        private final Thread receiver;
        private final AtomicInteger acked = new AtomicInteger();
        private final Semaphore window = new Semaphore(512);
        private volatile boolean failed;

        PipelinedWriter(int port, String prefix) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            sender = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; !failed; i++) {
                        window.acquire();
                        String k = prefix + "-k" + i;
                        String v = "v" + i;
                        String cmd = "*3\r\n$3\r\nSET\r\n$" + k.length() + "\r\n" + k + "\r\n$" + v.length() + "\r\n"
                                + v + "\r\n";
                        out.write(cmd.getBytes(StandardCharsets.US_ASCII));
                    }
                } catch (IOException | InterruptedException e) {
                    failed = true;
                }
            });
            receiver = Thread.ofPlatform().start(() -> {
                try {
                    byte[] ok = "+OK\r\n".getBytes(StandardCharsets.US_ASCII);
                    while (true) {
                        byte[] r = in.readNBytes(ok.length);
                        if (r.length < ok.length) {
                            break;
                        }
                        if (!java.util.Arrays.equals(r, ok)) {
                            throw new IllegalStateException("unexpected reply " + new String(r));
                        }
                        acked.incrementAndGet();
                        window.release();
                    }
                } catch (IOException e) {
                    // the primary died
                }
                failed = true;
                window.release(1000);
            });
        }

        void awaitEnd() throws InterruptedException {
            receiver.join(30_000);
            sender.join(30_000);
        }

        int acknowledged() {
            return acked.get();
        }

        @Override
        public void close() throws IOException {
            failed = true;
            socket.close();
        }
    }
}
