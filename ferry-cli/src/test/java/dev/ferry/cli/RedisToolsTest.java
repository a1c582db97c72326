/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The real Redis clients (Debian's redis-tools; ./ferry test installs them) against the kv workload. */
class RedisToolsTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @BeforeAll
    static void needsRedisTools() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/redis-cli")) && Files.isExecutable(
                Path.of("/usr/bin/redis-benchmark")), "redis-tools is not installed (apt-get install redis-tools):"
                + " skipping the tests with the real Redis clients");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Runs a command, returns its output; fails on a non-zero exit. */
    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + ":\n" + out).isZero();
        return out;
    }

    private static String cli(int port, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("redis-cli", "-p", Integer.toString(port)));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(new String[0])).trim();
    }

    private static String cliWhenUp(int port, String... args) throws Exception {
        long deadline = System.nanoTime() + LONG.toNanos();
        while (true) {
            Process p = new ProcessBuilder("redis-cli", "-p", Integer.toString(port), "ping").start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            if (out.contains("PONG")) {
                return cli(port, args);
            }
            assertThat(System.nanoTime()).as("kv port " + port + " never came up").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    @Test
    void redisCliWorksBeforeAndAfterALiveMigration() throws Exception {
        int port = freePort();
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "15s")) {
            int migrationPort = dst.listeningPort();
            try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "kv,port=" + port,
                    "--migrate-to", "127.0.0.1:" + migrationPort, "--migrate-after", "4s")) {
                assertThat(cliWhenUp(port, "set", "city", "Lisbon")).isEqualTo("OK");
                assertThat(cli(port, "incr", "visits")).isEqualTo("1");
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            // The client reconnects to the same port, now served by the destination.
            assertThat(cliWhenUp(port, "get", "city")).isEqualTo("Lisbon");
            assertThat(cli(port, "incr", "visits")).isEqualTo("2");
            assertThat(cli(port, "dbsize")).isEqualTo("2");
        }
    }

    @Test
    void redisBenchmarkRunsAgainstAReplicatedGuest() throws Exception {
        int port = freePort();
        try (FerryProcess standby = FerryProcess.start("standby", "--listen", "127.0.0.1:0")) {
            int standbyPort = Integer.parseInt(standby.await("standby listening on .*:(\\d+)$", LONG));
            try (FerryProcess primary = FerryProcess.start("run", "--memory", "64M", "--workload",
                    "kv,port=" + port, "--replicate-to", "127.0.0.1:" + standbyPort, "--run-for", "60s")) {
                primary.await("standby seeded", LONG);
                String out = run("redis-benchmark", "-p", Integer.toString(port), "-t", "set,get", "-n", "2000",
                        "-c", "50", "-q");
                assertThat(out).containsPattern("SET: [0-9.]+ requests per second")
                        .containsPattern("GET: [0-9.]+ requests per second");
                assertThat(cli(port, "dbsize")).isEqualTo("1");
            }
        }
    }
}
