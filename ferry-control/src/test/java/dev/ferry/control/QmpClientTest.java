/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

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

/** A client of a socket that is silent, answers garbage, sends endless lines, or closes. */
class QmpClientTest {
    @TempDir
    Path dir;

    @FunctionalInterface
    interface Peer {
        void serve(SocketChannel ch, BufferedReader in) throws Exception;
    }

    /** A fake control socket serving one connection with {@code peer}. */
    private ControlAddress fake(Peer peer) throws Exception {
        Path p = dir.resolve("fake.sock");
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(p));
        Thread.ofPlatform().daemon().start(() -> {
            try (s; SocketChannel ch = s.accept()) {
                peer.serve(ch, new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                        StandardCharsets.UTF_8)));
                Thread.sleep(60_000);
            } catch (Exception ignored) {
                // the test is over
            }
        });
        return ControlAddress.parse("unix:" + p);
    }

    private static void send(SocketChannel ch, String text) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static final String GREETING = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n";

    /** Greets, accepts capabilities, then answers the next command with {@code answer}. */
    private ControlAddress answering(String answer) throws Exception {
        return fake((ch, in) -> {
            send(ch, GREETING);
            in.readLine();
            send(ch, "{\"return\": {}}\r\n");
            in.readLine();
            send(ch, answer);
        });
    }

    @Test
    void aSocketThatNeverGreetsIsGivenUpOnAfterTheTimeout() throws Exception {
        ControlAddress a = fake((ch, in) -> { });
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThatThrownBy(
                () -> QmpClient.connect(a, Duration.ofMillis(500)))
                .hasMessageEndingWith("the control socket sent no greeting within 500 ms"));
    }

    @Test
    void aCommandNeverAnsweredIsGivenUpOnAfterTheTimeout() throws Exception {
        ControlAddress a = answering("");
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                assertThatThrownBy(() -> c.call("query-status", null, Duration.ofMillis(300)))
                        .hasMessage("the control socket sent no answer to query-status within 300 ms");
            }
        });
    }

    @Test
    void anAnswerThatIsNotAQmpReplyIsRefused() throws Exception {
        for (String garbage : new String[] {"42\r\n", "{}\r\n", "{\"error\": \"x\"}\r\n"}) {
            ControlAddress a = answering(garbage);
            try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                assertThatThrownBy(() -> c.call("query-status", null, Duration.ofSeconds(5)))
                        .hasMessage("the control socket's answer to query-status is not a QMP reply: "
                                + QmpServer.JSON.readTree(garbage));
            }
            java.nio.file.Files.delete(dir.resolve("fake.sock"));
        }
    }

    @Test
    void anEndlessAnswerIsRefusedAfterOneMebibyte() throws Exception {
        ControlAddress a = answering("{\"return\": \"" + "z".repeat(3 << 20));
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                assertThatThrownBy(() -> c.call("query-status", null, Duration.ofSeconds(10)))
                        .hasMessageStartingWith("control socket: a QMP message must end within 1048576 bytes");
                assertThat(c.closed()).isTrue();
            }
        });
    }

    @Test
    void eventsNobodyReadsAreKeptUpToTheBacklogNewestFirst() throws Exception {
        int sent = QmpClient.EVENT_BACKLOG + 1000;
        StringBuilder flood = new StringBuilder();
        for (int i = 0; i < sent; i++) {
            flood.append("{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": ").append(i).append("}}\r\n");
        }
        ControlAddress a = answering(flood + "{\"return\": {}}\r\n");
        try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(10))) {
            // The answer comes after every event, so by now the reader has queued (or dropped) them all.
            c.execute("query-status", null);
            assertThat(c.droppedEvents()).isEqualTo(1000);
            assertThat(c.nextEvent(Duration.ofSeconds(1)).at("/data/pass").asInt()).isEqualTo(1000);
        }
    }

    @Test
    void endlessAnswersToCommandsNeverSentEndTheConnection() throws Exception {
        ControlAddress a = answering("{\"return\": {}}\r\n".repeat(100));
        try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(10))) {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                // Answers the first command with one of the flood; by the second, the flood has ended the connection.
                Thread.sleep(500);
                assertThatThrownBy(() -> {
                    for (int i = 0; i < 100; i++) {
                        c.execute("query-status", null);
                    }
                }).isInstanceOf(java.io.IOException.class)
                        .hasMessageContaining("sent more than 64 answers to commands it was not sent");
            });
        }
    }

    @Test
    void aSocketThatClosesIsSeenClosed() throws Exception {
        ControlAddress a = fake((ch, in) -> {
            send(ch, GREETING);
            in.readLine();
            send(ch, "{\"return\": {}}\r\n{\"event\": \"BYE\", \"data\": {}}\r\n");
            ch.close();
        });
        try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
            assertThat(c.nextEvent(Duration.ofSeconds(5)).path("event").asText()).isEqualTo("BYE");
            assertThat(c.nextEvent(Duration.ofMillis(100))).isNull();
            assertThat(c.closed()).isTrue();
            assertThat(c.closedBecause()).isEqualTo("the control socket closed the connection");
            assertThatThrownBy(() -> c.call("query-status", null))
                    .hasMessageContaining("the control socket closed the connection");
        }
    }
}
