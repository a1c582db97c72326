/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry ctl} against sockets that close, answer garbage or stay silent: one line, an exit, no hang. */
class CtlCommandTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    @TempDir
    Path dir;

    /** A fake control socket: greets, accepts capabilities, then writes {@code then} and closes if asked. */
    private String fake(String then, boolean close) throws Exception {
        Path p = dir.resolve("fake.sock");
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(p));
        Thread.ofPlatform().daemon().start(() -> {
            try (s; SocketChannel ch = s.accept()) {
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                ch.write(ByteBuffer.wrap("{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n".getBytes()));
                in.readLine();
                ch.write(ByteBuffer.wrap(("{\"return\": {}}\r\n" + then).getBytes()));
                if (!close) {
                    Thread.sleep(120_000);
                }
            } catch (Exception ignored) {
                // the test is over
            }
        });
        return "unix:" + p;
    }

    @Test
    void followingEventsEndsWhenTheSocketCloses() throws Exception {
        String a = fake("{\"event\": \"MIGRATION\", \"data\": {\"status\": \"completed\"}}\r\n", true);
        try (FerryProcess ctl = FerryProcess.start("ctl", a, "--events")) {
            assertThat(ctl.exit(TIMEOUT)).as(ctl.output()).isZero();
            assertThat(ctl.output().lines().toList()).containsExactly(
                    "{\"event\":\"MIGRATION\",\"data\":{\"status\":\"completed\"}}",
                    "ferry ctl: no more events: the control socket closed the connection");
        }
    }

    @Test
    void anAnswerThatIsNotQmpIsOneLineAndExitOne() throws Exception {
        String a = fake("42\r\n", false);
        try (FerryProcess ctl = FerryProcess.start("ctl", a, "query-status")) {
            assertThat(ctl.exit(TIMEOUT)).as(ctl.output()).isEqualTo(Main.ERROR);
            assertThat(ctl.output()).isEqualTo("ferry ctl: the control socket's answer to query-status is not a QMP"
                    + " reply: 42");
        }
    }

    @Test
    void anAnswerThatNeverComesIsGivenUpOn() throws Exception {
        String a = fake("", false);
        try (FerryProcess ctl = FerryProcess.start("ctl", a, "query-status", "--answer-timeout", "500ms")) {
            assertThat(ctl.exit(TIMEOUT)).as(ctl.output()).isEqualTo(Main.ERROR);
            assertThat(ctl.output()).isEqualTo("ferry ctl: the control socket sent no answer to query-status within"
                    + " 500 ms");
        }
    }

    @Test
    void eventsForAloneFollowsEventsForThatLong() throws Exception {
        String a = fake("{\"event\": \"STOP\"}\r\n", false);
        try (FerryProcess ctl = FerryProcess.start("ctl", a, "--events-for", "1s")) {
            assertThat(ctl.exit(TIMEOUT)).as(ctl.output()).isZero();
            assertThat(ctl.output()).isEqualTo("{\"event\":\"STOP\"}");
        }
    }
}
