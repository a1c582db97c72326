/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.guest.inprocess.device.RespClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Live migrations between two JVMs, driven through the command line as a user would. */
class MigrationEndToEndTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private static JsonNode json(Path file) throws IOException {
        return Json.MAPPER.readTree(file.toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {"memtest", "seed", "random,wss=128M,size=64", "idle"})
    void everyWorkloadMigratesByteForByteAndGoesOn(String workload) throws Exception {
        Path srcDump = dir.resolve("src.ram");
        Path dstDump = dir.resolve("dst.ram");
        Path srcStats = dir.resolve("src.json");
        Path dstStats = dir.resolve("dst.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify", "--dump-ram", dstDump.toString(), "--stats-json", dstStats.toString())) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "256M", "--vcpus", "2", "--workload",
                    workload, "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "1s", "--dump-ram",
                    srcDump.toString(), "--stats-json", srcStats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
            assertThat(dst.output()).contains("verify: PASS");
        }
        assertThat(DemoCommand.sameContent(srcDump, dstDump)).as("RAM dumps identical").isTrue();
        JsonNode src = json(srcStats);
        JsonNode dst = json(dstStats);
        assertThat(src.at("/migration/status").asText()).isEqualTo("completed");
        assertThat(src.at("/migration/downtime").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(dst.at("/verify/passed").asBoolean()).isTrue();
        // The destination resumed where the source stopped, and went on.
        assertThat(dst.at("/workload-at-resume")).isEqualTo(src.at("/workload-at-switchover"));
        if (!workload.equals("idle")) {
            String counter = workload.startsWith("random") ? "/writes" : "/increments";
            assertThat(dst.at("/workload-at-exit" + counter).asLong())
                    .isGreaterThan(dst.at("/workload-at-resume" + counter).asLong());
        }
    }

    @Test
    void keyValueGuestMovesWithItsTableAndClientsReconnectOnTheSamePort() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "20s",
                "--verify")) {
            int migrationPort = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "kv,port=" + port,
                    "--migrate-to", "127.0.0.1:" + migrationPort, "--migrate-after", "3s")) {
                try (RespClient c = connect(port)) {
                    for (int i = 0; i < 200; i++) {
                        assertThat(c.call("SET", "k" + i, "v" + i)).isEqualTo("+OK");
                    }
                }
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            // The destination serves the same port once it resumed the guest.
            try (RespClient c = connect(port)) {
                assertThat(c.call("DBSIZE")).isEqualTo(":200");
                assertThat(c.call("GET", "k123")).isEqualTo("$v123");
                assertThat(c.call("SET", "after", "migration")).isEqualTo("+OK");
            }
            dst.close();
        }
    }

    private static RespClient connect(int port) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return new RespClient(port, 10_000);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    // A source's --run-for counts from its start, and before its first migration it warms the JIT for some seconds
    // (3-4 s on a slow day of this machine, even with --migrate-after 0s): the budgets below leave room for that.
    @Test
    void nonConvergingGuestAbortsOnTimeoutAndKeepsRunning() throws Exception {
        Path srcStats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s")) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "0s", "--max-bandwidth", "50000000",
                    "--downtime-limit", "300", "--policy", "downtime,timeout=3s,on-timeout=abort", "--run-for",
                    "12s", "--stats-json", srcStats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isEqualTo(Main.MIGRATION_ABORTED);
                assertThat(src.output()).contains("migration aborted").contains("the guest keeps running here");
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isEqualTo(Main.MIGRATION_ABORTED);
            assertThat(dst.output()).contains("aborted by the source").contains("no guest was started");
        }
        JsonNode src = json(srcStats);
        assertThat(src.at("/migration/status").asText()).isEqualTo("cancelled");
        assertThat(src.at("/migration/total-time").asLong()).isBetween(3000L, 5000L);
        // Still running after the abort: the memory test went on passing.
        assertThat(src.at("/workload-at-exit/passes").asLong())
                .isGreaterThan(src.at("/workload-at-switchover/passes").asLong());
    }

    @Test
    void nonConvergingGuestCompletesOnForcedSwitchoverAndReportsTheDowntime() throws Exception {
        Path srcStats = dir.resolve("src.json");
        Path srcDump = dir.resolve("src.ram");
        Path dstDump = dir.resolve("dst.ram");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify", "--dump-ram", dstDump.toString())) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "0s", "--max-bandwidth", "50000000",
                    "--policy", "downtime,timeout=2s,on-timeout=force", "--stats-json", srcStats.toString(),
                    "--dump-ram", srcDump.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
        }
        JsonNode src = json(srcStats);
        assertThat(src.at("/migration/status").asText()).isEqualTo("completed");
        // Usually about 99 MiB of dirty pages at 50 MB/s, 2.1 s; once 408 ms, probably because the guest's vCPU got
        // little of the two cores beside the JIT warm-up. Either way the downtime reported is the real one: at least
        // the time its bytes take at the cap, and over the 300 ms limit the policy could not meet.
        long downtimeBytes = src.at("/migration/ram/downtime-bytes").asLong();
        assertThat(src.at("/migration/downtime").asLong()).isGreaterThan(300)
                .isGreaterThanOrEqualTo(downtimeBytes * 1000 / 50_000_000 * 9 / 10);
        assertThat(DemoCommand.sameContent(srcDump, dstDump)).isTrue();
    }

    @Test
    void xbzrleMakesTheNonConvergingMemoryTestConverge() throws Exception {
        Path srcStats = dir.resolve("src.json");
        Path srcDump = dir.resolve("src.ram");
        Path dstDump = dir.resolve("dst.ram");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "1s",
                "--verify", "--dump-ram", dstDump.toString())) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "150M", "--workload", "memtest",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "1s", "--max-bandwidth", "50000000",
                    "--downtime-limit", "300", "--xbzrle", "--xbzrle-cache-size", "256M", "--policy",
                    "downtime,timeout=30s,on-timeout=abort", "--stats-json", srcStats.toString(), "--dump-ram",
                    srcDump.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
        }
        JsonNode m = json(srcStats).at("/migration");
        System.out.println("xbzrle convergence: downtime " + m.at("/downtime") + " ms, xbzrle-cache " + m.at(
                "/xbzrle-cache") + ", iterations " + m.at("/iterations"));
        assertThat(m.at("/status").asText()).isEqualTo("completed");
        assertThat(m.at("/downtime").asLong()).isLessThanOrEqualTo(300);
        // How many re-sent pages the cache holds depends on how far the guest's vCPU got beside the two JVMs: about
        // 28,000-33,000 hits here usually, 8,128 deltas once in a full test run (the threshold was then 10,000
        // deltas), 4,864 hits (all unchanged, no delta) for a guest limited to --rate 4000. What must hold is that
        // re-sent pages were found in the cache and that its deltas are a few bytes each.
        long hits = m.at("/xbzrle-cache/pages").asLong(); // QEMU's meaning: every page found in the cache
        long deltas = m.at("/xbzrle-cache/deltas").asLong();
        long overflows = m.at("/xbzrle-cache/overflow").asLong();
        assertThat(hits).isGreaterThan(1_000)
                .isEqualTo(deltas + overflows + m.at("/xbzrle-cache/unchanged").asLong());
        assertThat(m.at("/xbzrle-cache/bytes").asLong()).as("bytes of %d deltas and %d overflows", deltas, overflows)
                .isLessThanOrEqualTo(deltas * 64 + overflows * 4096);
        assertThat(m.at("/xbzrle-cache/cache-size").asLong()).isEqualTo(256L << 20);
        assertThat(DemoCommand.sameContent(srcDump, dstDump)).isTrue();
    }

    @Test
    void anXbzrleCacheLargerThanTheGuestTakesOnlyItsRamAndSaysSo() throws Exception {
        // A 1 TiB cache on a 64 MiB guest: once an OutOfMemoryError stack trace and a source that never exited.
        Path srcStats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "0s",
                "--verify")) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "0s", "--xbzrle", "--xbzrle-cache-size",
                    "1T", "--stats-json", srcStats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
                assertThat(src.output()).contains("xbzrle (cache 1.0 TiB, at most the guest's 64.0 MiB used)")
                        .doesNotContain("Exception").doesNotContain("Error");
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
            assertThat(dst.output()).contains("verify: PASS");
        }
        JsonNode m = json(srcStats).at("/migration");
        assertThat(m.at("/status").asText()).isEqualTo("completed");
        assertThat(m.at("/xbzrle-cache/cache-size").asLong()).isEqualTo(1L << 40); // the parameter, as QEMU reports it
    }

    @Test
    void destinationWithoutXbzrleRefusesItWithTheReason() throws Exception {
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--no-xbzrle")) {
            int port = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "0s", "--xbzrle", "--run-for", "10s")) {
                assertThat(src.exit(LONG)).isEqualTo(Main.MIGRATION_FAILED);
                assertThat(src.output()).contains("refused the migration: the source asks for xbzrle, which this"
                        + " destination does not support").contains("the guest keeps running here");
            }
            assertThat(dst.exit(LONG)).isEqualTo(Main.ERROR);
            assertThat(dst.output()).contains("does not support").contains("no guest was started");
        }
    }

    @Test
    void connectionCutMidStreamFailsBothSidesAndTheSourceGoesOn() throws Exception {
        Path srcStats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0");
                CuttingProxy proxy = new CuttingProxy(dst.listeningPort(), 20L << 20)) {
            try (FerryProcess src = FerryProcess.start("run", "--memory", "256M", "--workload", "random,wss=64M",
                    "--migrate-to", "127.0.0.1:" + proxy.port(), "--migrate-after", "0s", "--max-bandwidth",
                    "100M", "--run-for", "10s", "--stats-json", srcStats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isEqualTo(Main.MIGRATION_FAILED);
                assertThat(src.output()).contains("lost connection to destination")
                        .contains("the guest keeps running here");
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isEqualTo(Main.ERROR);
            assertThat(dst.output()).contains("migration failed").contains("no guest was started");
            assertThat(proxy.forwarded()).isGreaterThanOrEqualTo(20L << 20);
        }
        JsonNode src = json(srcStats);
        assertThat(src.at("/migration/status").asText()).isEqualTo("failed");
        assertThat(src.at("/workload-at-exit/writes").asLong())
                .isGreaterThan(src.at("/workload-at-switchover/writes").asLong());
    }

    @Test
    void garbageOnTheWireIsRefusedWithAClearError() throws Exception {
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0")) {
            int port = dst.listeningPort();
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
                s.getOutputStream().flush();
                assertThat(dst.exit(LONG)).isEqualTo(Main.ERROR);
            }
            assertThat(dst.output()).contains("not a Ferry stream: bad magic").doesNotContain("Exception")
                    .doesNotContain("\tat ");
        }
    }

    @Test
    void sourceThatCannotConnectReportsItAndKeepsRunning() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=32M",
                "--migrate-to", "127.0.0.1:" + closedPort, "--migrate-after", "0s", "--run-for", "1s")) {
            assertThat(src.exit(LONG)).isEqualTo(Main.MIGRATION_FAILED);
            assertThat(src.output()).contains("cannot connect to 127.0.0.1:" + closedPort)
                    .contains("the guest keeps running here");
        }
    }

    @Test
    void demoRunsAndVerifies() throws Exception {
        try (FerryProcess demo = FerryProcess.start("demo", "--memory", "256M", "--migrate-after", "1s")) {
            assertThat(demo.exit(LONG)).as(demo.output()).isZero();
            assertThat(demo.output()).contains("byte-identical").contains("verify: PASS").contains("demo PASSED")
                    .contains("\"status\" : \"completed\"");
            // The statistics time the migration, not the second the guest ran before it nor the warm-up.
            Matcher setup = Pattern.compile("\"setup-time\" : (\\d+)").matcher(demo.output());
            assertThat(setup.find()).as(demo.output()).isTrue();
            assertThat(Long.parseLong(setup.group(1))).isLessThan(1000);
        }
    }

    /** A TCP proxy that forwards the source's bytes until a budget is used up, then cuts both connections. */
    static final class CuttingProxy implements AutoCloseable {
        private final ServerSocket server = new ServerSocket();
        private final AtomicLong forwarded = new AtomicLong();

        CuttingProxy(int targetPort, long budget) throws IOException {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            Thread.ofPlatform().daemon().start(() -> {
                try (Socket in = server.accept(); Socket out = new Socket("127.0.0.1", targetPort)) {
                    InputStream replies = out.getInputStream();
                    Thread back = Thread.ofPlatform().daemon().start(() -> copy(replies, in, Long.MAX_VALUE, null));
                    copy(in.getInputStream(), out, budget, forwarded);
                    // Cut the source's side first, so that the source sees the connection go before any
                    // reply from the destination about the torn frame can be relayed back to it.
                    in.close();
                    back.interrupt();
                } catch (IOException ignored) {
                    // cut
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        long forwarded() {
            return forwarded.get();
        }

        private static void copy(InputStream from, Socket to, long budget, AtomicLong count) {
            byte[] buf = new byte[65536];
            long sent = 0;
            try {
                OutputStream out = to.getOutputStream();
                int n;
                while (sent < budget && (n = from.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    sent += n;
                    if (count != null) {
                        count.set(sent);
                    }
                }
            } catch (IOException ignored) {
                // cut
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
