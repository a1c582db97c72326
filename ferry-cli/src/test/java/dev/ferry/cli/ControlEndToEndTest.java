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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Migrations driven through the control socket, by a program in this JVM and by a Python script. */
class ControlEndToEndTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private static JsonNode json(String s) throws Exception {
        return QmpServer.JSON.readTree(s);
    }

    @Test
    void aScriptDrivesAWholeMigrationAndReceivesEveryEvent() throws Exception {
        Path sock = dir.resolve("run.sock");
        ControlAddress ctl = ControlAddress.parse("unix:" + sock);
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify");
                FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                        "--control", "unix:" + sock, "--run-for", "90s")) {
            int port = dst.listeningPort();
            src.await("guest running", LONG);
            try (QmpClient c = QmpClient.connect(ctl, Duration.ofSeconds(30))) {
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("running");
                assertThat(c.execute("query-migrate", null).isEmpty()).isTrue();
                // Refusals change nothing.
                assertQmpError(() -> c.execute("migrate-set-capabilities", json(
                        "{\"capabilities\":[{\"capability\":\"xbzrle\",\"state\":true},"
                                + "{\"capability\":\"mapped-ram\",\"state\":true}]}")),
                        "incompatible with xbzrle");
                assertQmpError(() -> c.execute("migrate-set-capabilities", json(
                        "{\"capabilities\":[{\"capability\":\"postcopy-ram\",\"state\":true}]}")),
                        "does not accept value 'postcopy-ram'");
                assertQmpError(() -> c.execute("migrate-set-parameters", json(
                        "{\"downtime-limit\":50,\"max-bandwidth\":-1}")), "'max-bandwidth' expects a value");
                assertQmpError(() -> c.execute("migrate-set-parameters", json("{\"speed\":1}")),
                        "Parameter 'speed' is unexpected");
                assertQmpError(() -> c.execute("migrate-set-parameters", json("{\"policy\":\"fastest\"}")),
                        "unknown policy");
                assertQmpError(() -> c.execute("migrate", json("{\"uri\":\"exec:cat\"}")), "Invalid migration URI");
                assertQmpError(() -> c.execute("migrate-continue", json("{\"state\":\"pre-switchover\"}")),
                        "not in expected state");
                assertQmpError(() -> c.execute("no-such-command", null), "has not been found");
                JsonNode params = c.execute("query-migrate-parameters", null);
                assertThat(params.get("downtime-limit").asLong()).isEqualTo(300);
                assertThat(params.get("max-bandwidth").asLong()).isZero();
                assertThat(capability(c, "xbzrle")).isFalse();
                // A valid set, then the migration.
                c.execute("migrate-set-capabilities", json("{\"capabilities\":[{\"capability\":\"xbzrle\","
                        + "\"state\":true},{\"capability\":\"pause-before-switchover\",\"state\":true}]}"));
                c.execute("migrate-set-parameters", json("{\"max-bandwidth\":100000000,\"downtime-limit\":10,"
                        + "\"xbzrle-cache-size\":268435456}"));
                c.execute("migrate", json("{\"uri\":\"tcp:127.0.0.1:" + port + "\"}"));
                assertThat(await(c, "MIGRATION", "active")).isNotNull();
                assertQmpError(() -> c.execute("migrate-set-capabilities", json(
                        "{\"capabilities\":[{\"capability\":\"auto-converge\",\"state\":true}]}")),
                        "migration process in progress");
                assertQmpError(() -> c.execute("migrate", json("{\"uri\":\"tcp:127.0.0.1:" + port + "\"}")),
                        "migration process in progress");
                // Lower the bandwidth mid-way: it takes effect at the next batch.
                c.execute("migrate-set-parameters", json("{\"max-bandwidth\":50000000}"));
                assertThat(c.execute("query-migrate-parameters", null).get("max-bandwidth").asLong())
                        .isEqualTo(50_000_000);
                assertThat(c.execute("query-migrate", null).get("status").asText()).isEqualTo("active");
                assertThat(c.awaitEvent("MIGRATION_PASS", LONG)).isNotNull();
                // A 10 ms limit will not be met: force the switchover, then let it through the pause gate.
                c.execute("x-ferry-switchover", null);
                assertThat(await(c, "MIGRATION", "pre-switchover")).isNotNull();
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("finish-migrate");
                assertQmpError(() -> c.execute("cont", null), "holds the guest paused");
                c.execute("migrate-continue", json("{\"state\":\"pre-switchover\"}"));
                assertThat(await(c, "MIGRATION", "completed")).isNotNull();
                JsonNode done = c.execute("query-migrate", null);
                assertThat(done.get("status").asText()).isEqualTo("completed");
                assertThat(done.at("/xbzrle-cache/cache-size").asLong()).isEqualTo(268_435_456);
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("postmigrate");
            } catch (java.io.IOException e) {
                // The source exits once the guest is handed over: a closed socket at the very end is expected.
            }
            assertThat(src.exit(LONG)).as(src.output()).isZero();
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
            assertThat(dst.output()).contains("verify: PASS");
        }
    }

    @Test
    void aPolicyWrittenInPythonDecidesTheSwitchover() throws Exception {
        Path sock = dir.resolve("policy.sock");
        Path stats = dir.resolve("src.json");
        Path script = dir.resolve("policy_controller.py");
        try (var in = getClass().getResourceAsStream("/control/policy_controller.py")) {
            Files.write(script, in.readAllBytes());
        }
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify")) {
            int port = dst.listeningPort();
            // memtest at 100 MB/s with a 300 ms limit does not converge on its own: the controller decides.
            try (FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                    "--control", "unix:" + sock, "--policy", "external,deadline=10s,fallback=downtime",
                    "--max-bandwidth", "100M", "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "3s",
                    "--stats-json", stats.toString())) {
                src.await("control socket on", LONG);
                Process py = new ProcessBuilder("python3", script.toString(), sock.toString(), "3")
                        .redirectErrorStream(true).start();
                String pyOut;
                try {
                    assertThat(src.exit(LONG)).as(src.output()).isZero();
                    assertThat(py.waitFor(60, TimeUnit.SECONDS)).isTrue();
                    pyOut = new String(py.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    assertThat(py.exitValue()).as(pyOut).isZero();
                } finally {
                    py.destroyForcibly();
                }
                assertThat(pyOut).contains("controller: connected").contains("-> continue")
                        .contains("at iteration 3").contains("-> stop-and-copy").contains("migration completed");
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
        }
        JsonNode m = Json.MAPPER.readTree(stats.toFile()).at("/migration");
        assertThat(m.at("/policy").asText()).startsWith("external");
        List<String> decisions = new ArrayList<>();
        m.at("/iterations").forEach(it -> decisions.add(it.get("decision").asText()));
        // Three rounds of precopy as the controller decided, then the stop-and-copy it asked for.
        assertThat(decisions).hasSize(4).endsWith("stop-and-copy");
    }

    @Test
    void autoConvergeMakesTheNonConvergingMemoryTestConverge() throws Exception {
        Path stats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify")) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "1s", "--max-bandwidth", "50000000",
                    "--downtime-limit", "300", "--auto-converge", "--cpu-throttle-initial", "80",
                    "--cpu-throttle-increment", "19", "--policy", "downtime,timeout=80s,on-timeout=abort",
                    "--stats-json", stats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
        }
        JsonNode m = Json.MAPPER.readTree(stats.toFile()).at("/migration");
        assertThat(m.at("/status").asText()).isEqualTo("completed");
        assertThat(m.at("/cpu-throttle-percentage").asInt()).isGreaterThanOrEqualTo(80);
        // The downtime policy sizes the final round's transfer to the 300 ms limit; pausing the throttled vCPUs, the
        // execution state and the completion round trip come on top (295-306 ms measured here). A stop-and-copy
        // of the unconverged working set would take about 2 s at 50 MB/s.
        assertThat(m.at("/downtime").asLong()).isLessThanOrEqualTo(360);
    }

    @Test
    void dirtyRateMeasurementAndFerryCtl() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                "--control", "unix:" + sock, "--run-for", "60s")) {
            src.await("guest running", LONG);
            try (FerryProcess ctl = FerryProcess.start("ctl", "unix:" + sock, "calc-dirty-rate",
                    "{\"calc-time\": 1}")) {
                assertThat(ctl.exit(LONG)).as(ctl.output()).isZero();
                assertThat(ctl.output()).isEqualTo("{\"return\":{}}");
            }
            Thread.sleep(1500);
            try (FerryProcess ctl = FerryProcess.start("ctl", "unix:" + sock, "query-dirty-rate")) {
                assertThat(ctl.exit(LONG)).as(ctl.output()).isZero();
                JsonNode r = json(ctl.output()).get("return");
                assertThat(r.get("status").asText()).isEqualTo("measured");
                // memtest sweeps 31 MiB over and over: the working set saturates at its 7936 pages.
                assertThat(r.at("/working-set/4/pages").asLong()).isBetween(7000L, 8192L);
                assertThat(r.at("/prediction/without-xbzrle/converges").isBoolean()).isTrue();
            }
            try (FerryProcess ctl = FerryProcess.start("ctl", "unix:" + sock, "migrate", "{\"uri\": 5}")) {
                assertThat(ctl.exit(LONG)).isEqualTo(Main.ERROR);
                assertThat(ctl.output()).contains("\"class\":\"GenericError\"");
            }
            try (FerryProcess ctl = FerryProcess.start("ctl", "unix:" + sock, "query-status", "not json")) {
                assertThat(ctl.exit(LONG)).isEqualTo(Main.USAGE);
                assertThat(ctl.output()).contains("JSON-ARGUMENTS is not JSON");
            }
            try (FerryProcess ctl = FerryProcess.start("ctl", "unix:" + sock, "stop", "{}", "--events",
                    "--events-for", "1s")) {
                assertThat(ctl.exit(LONG)).isZero();
                assertThat(ctl.output()).contains("{\"return\":{}}").contains("\"event\":\"STOP\"");
            }
        }
    }

    /**
     * The in-doubt window of a handover: the connection breaks after the source wrote HANDOVER and before the
     * destination read it. The destination, which never got it, starts nothing; the source, which cannot tell, keeps
     * its guest paused rather than dropping what may be the only copy, and resumes it on 'cont'.
     */
    @Test
    void aMigrationThatIsCancelledLeavesAGuestTheUserStoppedStopped() throws Exception {
        Path sock = dir.resolve("run.sock");
        try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                "--control", "unix:" + sock, "--run-for", "90s")) {
            src.await("guest running", LONG);
            try (QmpClient c = QmpClient.connect(ControlAddress.parse("unix:" + sock), Duration.ofSeconds(30))) {
                c.execute("migrate-set-capabilities", json("{\"capabilities\":[{\"capability\":"
                        + "\"pause-before-switchover\",\"state\":true}]}"));
                // Stopped before the migration: the switchover's pause and its release on cancel leave it stopped.
                c.execute("stop", null);
                c.execute("migrate", json("{\"uri\":\"file:" + dir.resolve("one.snap") + "\"}"));
                assertThat(await(c, "MIGRATION", "pre-switchover")).isNotNull();
                assertQmpError(() -> c.execute("cont", null), "holds the guest paused");
                c.execute("migrate_cancel", null);
                assertThat(await(c, "MIGRATION", "cancelled")).isNotNull();
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("paused");
                c.execute("cont", null);
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("running");
                // Stopped while the switchover holds it paused: the same.
                c.execute("migrate", json("{\"uri\":\"file:" + dir.resolve("two.snap") + "\"}"));
                c.execute("x-ferry-switchover", null);
                assertThat(await(c, "MIGRATION", "pre-switchover")).isNotNull();
                c.execute("stop", null);
                c.execute("migrate_cancel", null);
                assertThat(await(c, "MIGRATION", "cancelled")).isNotNull();
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("paused");
                c.execute("cont", null);
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("running");
            }
        }
    }

    @Test
    void aHandoverLostOnTheWayKeepsTheSourceGuestPausedUntilCont() throws Exception {
        Path sock = dir.resolve("run.sock");
        Path srcStats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0");
                HandoverLosingProxy proxy = new HandoverLosingProxy(dst.listeningPort());
                FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                        "--migrate-to", "127.0.0.1:" + proxy.port(), "--migrate-after", "0s", "--control",
                        "unix:" + sock, "--run-for", "30s", "--stats-json", srcStats.toString())) {
            assertThat(dst.exit(LONG)).as(dst.output()).isEqualTo(Main.ERROR);
            assertThat(dst.output()).contains("no guest was started");
            src.await("did not confirm the handover", LONG);
            assertThat(src.await("resume it here with 'cont' on the control socket", LONG)).isNotNull();
            try (QmpClient c = QmpClient.connect(ControlAddress.parse("unix:" + sock), Duration.ofSeconds(30))) {
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("postmigrate");
                c.execute("cont", null);
                assertThat(c.execute("query-status", null).get("status").asText()).isEqualTo("running");
            }
            assertThat(src.exit(LONG)).as(src.output()).isEqualTo(Main.HANDOVER_UNCONFIRMED);
            assertThat(src.output()).contains("guest resumed here after the unconfirmed handover");
        }
        JsonNode stats = QmpServer.JSON.readTree(srcStats.toFile());
        assertThat(stats.at("/migration/status").asText()).isEqualTo("completed");
        assertThat(stats.at("/migration/x-handover-unconfirmed").asText()).contains("before it confirmed");
        // Paused from the switchover until 'cont', then running here again.
        assertThat(stats.at("/workload-at-exit/passes").asLong())
                .isGreaterThan(stats.at("/workload-at-switchover/passes").asLong());
    }

    @Test
    void aGuestResumedAfterALostHandoverMigratesAgain() throws Exception {
        Path sock = dir.resolve("run.sock");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0");
                HandoverLosingProxy proxy = new HandoverLosingProxy(dst.listeningPort());
                FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                        "--migrate-to", "127.0.0.1:" + proxy.port(), "--migrate-after", "0s", "--control",
                        "unix:" + sock, "--run-for", "90s")) {
            assertThat(dst.exit(LONG)).as(dst.output()).isEqualTo(Main.ERROR);
            src.await("resume it here with 'cont'", LONG);
            try (QmpClient c = QmpClient.connect(ControlAddress.parse("unix:" + sock), Duration.ofSeconds(30));
                    FerryProcess again = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                            "--verify")) {
                c.execute("cont", null);
                c.execute("migrate", json("{\"uri\":\"tcp:127.0.0.1:" + again.listeningPort() + "\"}"));
                assertThat(await(c, "MIGRATION", "completed")).isNotNull();
                assertThat(again.exit(LONG)).as(again.output()).isZero();
                assertThat(again.output()).contains("verify: PASS");
            }
            // Handed over this time: the source exits at once, without waiting out --run-for.
            assertThat(src.exit(Duration.ofSeconds(60))).as(src.output()).isEqualTo(Main.OK);
        }
    }

    /**
     * Relays a migration until the destination's COMPLETE_ACK, then cuts the destination off, swallows what the
     * source sends next up to its HANDOVER frame, and closes the source's connection: the HANDOVER is lost on the way.
     */
    static final class HandoverLosingProxy implements AutoCloseable {
        /** Return-path bytes up to and including COMPLETE_ACK: stream header, HELLO_ACK, COMPLETE_ACK. */
        private static final int RETURN_BYTES_TO_COMPLETE_ACK = 16 + 16 + 16;
        private static final int EMPTY_FRAME = 12;
        private static final int HANDOVER = 0x08;
        private final ServerSocket server = new ServerSocket();
        private volatile boolean cut;

        HandoverLosingProxy(int targetPort) throws IOException {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            Thread.ofPlatform().daemon().start(() -> {
                try (Socket in = server.accept(); Socket out = new Socket("127.0.0.1", targetPort)) {
                    Thread back = Thread.ofPlatform().daemon().start(() -> relayReplies(out, in));
                    forward(in, out);
                    back.join();
                } catch (IOException | InterruptedException ignored) {
                    // the test sees the outcome in the two processes
                }
            });
        }

        private void relayReplies(Socket dst, Socket src) {
            try {
                InputStream replies = dst.getInputStream();
                byte[] buf = new byte[RETURN_BYTES_TO_COMPLETE_ACK];
                int relayed = 0;
                while (relayed < RETURN_BYTES_TO_COMPLETE_ACK) {
                    int n = replies.read(buf, 0, RETURN_BYTES_TO_COMPLETE_ACK - relayed);
                    if (n < 0) {
                        return;
                    }
                    relayed += n;
                    if (relayed == RETURN_BYTES_TO_COMPLETE_ACK) {
                        // The destination has read COMPLETE: cut it off before the source can send HANDOVER.
                        cut = true;
                        dst.close();
                    }
                    src.getOutputStream().write(buf, 0, n);
                }
            } catch (IOException ignored) {
                // cut
            }
        }

        private void forward(Socket src, Socket dst) throws IOException {
            InputStream from = src.getInputStream();
            byte[] buf = new byte[65536];
            // After the cut the source sends only whole empty frames (KEEPALIVE, then HANDOVER), from a frame start.
            ByteArrayOutputStream afterCut = new ByteArrayOutputStream();
            int n;
            while ((n = from.read(buf)) > 0) {
                if (cut) {
                    afterCut.write(buf, 0, n);
                    if (holdsHandover(afterCut.toByteArray())) {
                        break;
                    }
                    continue;
                }
                try {
                    dst.getOutputStream().write(buf, 0, n);
                } catch (IOException e) {
                    // cut while writing: these bytes were read before the cut, and HANDOVER comes only after it
                }
            }
            src.close();
        }

        private static boolean holdsHandover(byte[] frames) {
            for (int at = 0; at + EMPTY_FRAME <= frames.length; at += EMPTY_FRAME) {
                if ((frames[at] & 0xff) == HANDOVER) {
                    return true;
                }
            }
            return false;
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    private static boolean capability(QmpClient c, String name) throws Exception {
        for (JsonNode cap : c.execute("query-migrate-capabilities", null)) {
            if (cap.get("capability").asText().equals(name)) {
                return cap.get("state").asBoolean();
            }
        }
        throw new AssertionError("no capability " + name);
    }

    private static JsonNode await(QmpClient c, String event, String status) throws InterruptedException {
        long deadline = System.nanoTime() + LONG.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode e = c.awaitEvent(event, Duration.ofSeconds(1));
            if (e != null && (status == null || e.at("/data/status").asText().equals(status))) {
                return e;
            }
        }
        return null;
    }

    private interface Call {
        void run() throws Exception;
    }

    private static void assertQmpError(Call call, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(QmpError.class,
                e -> assertThat(e.getMessage()).contains(message));
    }
}
