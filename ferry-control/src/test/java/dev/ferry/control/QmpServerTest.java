/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QmpServerTest {
    @TempDir
    Path dir;

    private QmpServer server(ControlAddress a) throws Exception {
        QmpServer s = QmpServer.open(a, "ferry test");
        s.register("echo", args -> Map.of("said", args.path("text").asText()));
        s.register("fail", args -> {
            throw QmpError.generic("refused: " + args.path("why").asText());
        });
        return s;
    }

    @Test
    void negotiatesAnswersAndReportsErrorsOverAUnixSocket() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        try (QmpServer s = server(a); QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
            assertThat(c.greeting().at("/QMP/version/package").asText()).isEqualTo("ferry test");
            assertThat(c.execute("echo", QmpServer.JSON.readTree("{\"text\":\"hi\"}")).get("said").asText())
                    .isEqualTo("hi");
            assertThatThrownBy(() -> c.execute("fail", QmpServer.JSON.readTree("{\"why\":\"no\"}")))
                    .isInstanceOfSatisfying(QmpError.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("GenericError");
                        assertThat(e.getMessage()).isEqualTo("refused: no");
                    });
            assertThatThrownBy(() -> c.execute("nope", null)).isInstanceOfSatisfying(QmpError.class,
                    e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));
            assertThat(c.execute("query-commands", null).toString()).contains("echo").contains("query-version");
            s.emit("TEST_EVENT", Map.of("n", 1));
            JsonNode e = c.awaitEvent("TEST_EVENT", Duration.ofSeconds(5));
            assertThat(e.at("/data/n").asInt()).isEqualTo(1);
            assertThat(e.at("/timestamp/seconds").asLong()).isPositive();
        }
    }

    @Test
    void rawProtocolFollowsQmp() throws Exception {
        ControlAddress a = ControlAddress.parse("tcp:127.0.0.1:0");
        // Port 0 cannot be known before binding: bind a real port through the server instead.
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        a = ControlAddress.parse("tcp:127.0.0.1:" + port);
        try (QmpServer s = server(a); Socket sock = new Socket("127.0.0.1", port)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = sock.getOutputStream();
            assertThat(in.readLine()).startsWith("{\"QMP\":");
            out.write("{\"execute\":\"echo\",\"id\":1}\n".getBytes());
            assertThat(in.readLine()).contains("Expecting capabilities negotiation").contains("\"id\":1");
            out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes());
            assertThat(in.readLine()).isEqualTo("{\"return\":{}}");
            out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes());
            assertThat(in.readLine()).contains("already complete");
            out.write("{\"execute\":\"echo\",\"arguments\":{\"text\":\"x\"},\"id\":\"a\"}".getBytes());
            assertThat(in.readLine()).isEqualTo("{\"return\":{\"said\":\"x\"},\"id\":\"a\"}");
            out.write("{\"execute\":\"echo\",\"arguments\":[1]}\n".getBytes());
            assertThat(in.readLine()).contains("'arguments' must be an object");
            out.write("{\"exec\":\"echo\"}\n".getBytes());
            assertThat(in.readLine()).contains("must be a JSON object with \\\"execute\\\"");
            out.write("{\"execute\":\"echo\",\"bogus\":1}\n".getBytes());
            assertThat(in.readLine()).contains("'bogus' is unexpected");
            out.write("{not json\n".getBytes());
            assertThat(in.readLine()).contains("JSON parse error");
        }
    }

    /**
     * Negotiates on {@code ch}, then sends {@code count} echo commands of {@code textBytes} each from a thread of its
     * own, and never reads an answer.
     */
    private static void sendWithoutReading(java.nio.channels.SocketChannel ch, int textBytes, int count)
            throws java.io.IOException {
        ch.write(java.nio.ByteBuffer.wrap("{\"execute\":\"qmp_capabilities\"}\n".getBytes()));
        byte[] command = ("{\"execute\":\"echo\",\"arguments\":{\"text\":\"" + "x".repeat(textBytes) + "\"}}\n")
                .getBytes();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    ch.write(java.nio.ByteBuffer.wrap(command));
                }
            } catch (java.io.IOException ignored) {
                // dropped by the server, as it should be
            }
        });
    }

    @Test
    void aClientThatStopsReadingHoldsUpNobodyAndIsDroppedWhenItsEventsPileUp() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        try (QmpServer s = server(a); java.nio.channels.SocketChannel stalled =
                java.nio.channels.SocketChannel.open(a.socketAddress())) {
            // Commands with big answers, never read: the socket's buffers fill, then the client's outbox.
            sendWithoutReading(stalled, 8192, 10_000);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                    while (s.negotiatedClients() < 2) {
                        Thread.sleep(10);
                    }
                    // Events until the stalled client is dropped; each reaches the client that reads.
                    int sent = 0;
                    while (s.negotiatedClients() == 2) {
                        s.emit("TEST_EVENT", Map.of("n", sent++));
                        assertThat(c.execute("echo", QmpServer.JSON.readTree("{\"text\":\"hi\"}")).get("said")
                                .asText()).isEqualTo("hi");
                    }
                    assertThat(sent).isLessThanOrEqualTo(QmpServer.OUTBOX_MESSAGES + 1);
                    for (int i = 0; i < sent; i++) {
                        assertThat(c.awaitEvent("TEST_EVENT", Duration.ofSeconds(5)).at("/data/n").asInt())
                                .isEqualTo(i);
                    }
                }
            });
        }
    }

    @Test
    void aClientWhoseUnreadMessagesPassTheByteBoundIsDropped() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        try (QmpServer s = server(a); java.nio.channels.SocketChannel stalled =
                java.nio.channels.SocketChannel.open(a.socketAddress())) {
            // 64 answers of 512 KiB, never read: far fewer messages than the outbox holds, far more bytes.
            sendWithoutReading(stalled, 512 << 10, 64);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                while (s.negotiatedClients() < 1) {
                    Thread.sleep(10);
                }
                Thread.sleep(2000); // the server reads until the client's outbox is at its byte bound
                // Big events: a bound by count alone would let some 250 of them (62 MiB) pile up for this client.
                String big = "z".repeat(256 << 10);
                int events = 0;
                while (s.negotiatedClients() == 1) {
                    s.emit("TEST_EVENT", Map.of("n", events++, "pad", big));
                    Thread.sleep(10);
                }
                assertThat(events).as("events before the client was dropped").isLessThan(10);
            });
        }
    }

    @Test
    void answersAreWrittenBeforeAClientThatClosedItsSideIsDisconnected() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        try (QmpServer s = server(a); java.nio.channels.SocketChannel ch =
                java.nio.channels.SocketChannel.open(a.socketAddress())) {
            ch.write(java.nio.ByteBuffer.wrap(("{\"execute\":\"qmp_capabilities\"}\n"
                    + "{\"execute\":\"echo\",\"arguments\":{\"text\":\"last\"},\"id\":7}\n").getBytes()));
            ch.shutdownOutput(); // as 'echo ... | socat - UNIX-CONNECT:...' does
            String all = new String(java.nio.channels.Channels.newInputStream(ch).readAllBytes(),
                    StandardCharsets.UTF_8);
            assertThat(all.lines().toList()).hasSize(3).last().isEqualTo("{\"return\":{\"said\":\"last\"},\"id\":7}");
        }
    }

    /** A raw negotiated connection, answers read with a bound on the wait. */
    private static final class Raw implements AutoCloseable {
        final Socket sock;
        final BufferedReader in;
        final OutputStream out;

        Raw(int port) throws Exception {
            sock = new Socket("127.0.0.1", port);
            sock.setSoTimeout(20_000);
            in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.UTF_8));
            out = sock.getOutputStream();
            assertThat(in.readLine()).startsWith("{\"QMP\":");
            out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes());
            assertThat(in.readLine()).isEqualTo("{\"return\":{}}");
        }

        /** Sends in the background: the server may stop reading (and close) before all is sent. */
        void sendInBackground(byte[] bytes) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    out.write(bytes);
                    out.flush();
                } catch (java.io.IOException ignored) {
                    // the server closed the connection, as it should
                }
            });
        }

        /** The server closed the connection (with input unread, TCP may end it with a reset). */
        void assertClosed() {
            try {
                assertThat(in.readLine()).isNull();
            } catch (java.net.SocketException reset) {
                assertThat(reset.getMessage()).isEqualTo("Connection reset");
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public void close() throws Exception {
            sock.close();
        }
    }

    private static int freePort() throws Exception {
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }

    @Test
    void aMessageLongerThanOneMebibyteIsRefusedBeforeItIsRead() throws Exception {
        int port = freePort();
        try (QmpServer s = server(ControlAddress.parse("tcp:127.0.0.1:" + port)); Raw r = new Raw(port)) {
            // Up to the bound, a message is read; the blanks before it count too (here the newline after
            // qmp_capabilities, which ended at byte 30).
            String prefix = " {\"execute\":\"echo\",\"arguments\":{\"text\":\"";
            String fits = prefix + "y".repeat((1 << 20) - 1 - prefix.length() - 3) + "\"}}";
            assertThat(1 + fits.length()).isEqualTo(1 << 20);
            r.sendInBackground(fits.getBytes(StandardCharsets.US_ASCII));
            assertThat(r.in.readLine()).startsWith("{\"return\":{\"said\":\"yyy");
            // One byte more is refused, and so is an endless string: one line, then the connection is closed.
            r.sendInBackground(fits.replace("\"}}", "yy\"}}").getBytes(StandardCharsets.US_ASCII));
            assertThat(r.in.readLine()).isEqualTo("{\"error\":{\"class\":\"GenericError\",\"desc\":\"a QMP message must"
                    + " end within 1048576 bytes; the one from byte " + (30 + (1 << 20)) + " of the connection goes on"
                    + " past that\"}}");
            r.assertClosed();
        }
        port = freePort();
        try (QmpServer s = server(ControlAddress.parse("tcp:127.0.0.1:" + port)); Raw r = new Raw(port)) {
            r.sendInBackground(" ".repeat(3 << 20).getBytes(StandardCharsets.US_ASCII)); // an endless line of blanks
            assertThat(r.in.readLine()).contains("a QMP message must end within 1048576 bytes");
            r.assertClosed();
        }
    }

    @Test
    void nestingIsBounded() throws Exception {
        int port = freePort();
        try (QmpServer s = server(ControlAddress.parse("tcp:127.0.0.1:" + port)); Raw r = new Raw(port)) {
            r.out.write(("{\"execute\":\"echo\",\"id\":" + "[".repeat(63) + "]".repeat(63) + "}\n").getBytes());
            assertThat(r.in.readLine()).startsWith("{\"return\":{\"said\":\"\"},\"id\":[[[");
            r.out.write(("{\"execute\":\"echo\",\"id\":" + "[".repeat(64) + "]".repeat(64) + "}\n").getBytes());
            assertThat(r.in.readLine()).contains("JSON parse error: Document nesting depth (65) exceeds the maximum"
                    + " allowed (64");
            r.assertClosed();
        }
    }

    @Test
    void aClientBeyondTheMostConnectedAtOnceIsToldSoAndDisconnected() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        java.util.List<QmpClient> connected = new java.util.ArrayList<>();
        try (QmpServer s = server(a)) {
            for (int i = 0; i < 64; i++) {
                connected.add(QmpClient.connect(a, Duration.ofSeconds(5)));
            }
            assertThatThrownBy(() -> QmpClient.connect(a, Duration.ofMillis(200)))
                    .hasMessageContaining("too many control clients (64 connected): try again once one has"
                            + " disconnected");
            connected.remove(0).close();
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                while (s.negotiatedClients() > 63) {
                    Thread.sleep(10);
                }
            });
            try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                assertThat(c.execute("echo", QmpServer.JSON.readTree("{\"text\":\"in\"}")).get("said").asText())
                        .isEqualTo("in");
            }
        } finally {
            for (QmpClient c : connected) {
                c.close();
            }
        }
    }

    @Test
    void aUnixSocketPathInUseOrNotASocketIsLeftAloneAndAStaleOneIsReplaced() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        try (QmpServer first = server(a)) {
            assertThatThrownBy(() -> QmpServer.open(a, "second"))
                    .hasMessage("cannot open control socket " + a + ": another process serves it");
            try (QmpClient c = QmpClient.connect(a, Duration.ofSeconds(5))) {
                assertThat(c.greeting().at("/QMP/version/package").asText()).isEqualTo("ferry test");
            }
        }
        Path file = dir.resolve("notes.txt");
        java.nio.file.Files.writeString(file, "keep me");
        assertThatThrownBy(() -> QmpServer.open(ControlAddress.parse("unix:" + file), "x"))
                .hasMessage("cannot open control socket unix:" + file + ": " + file + " exists and is not a socket"
                        + " (remove it, or choose another path)");
        assertThat(java.nio.file.Files.readString(file)).isEqualTo("keep me");
        // A socket file nobody serves any more (its process was killed): replaced.
        Path stale = dir.resolve("stale.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(java.net.UnixDomainSocketAddress.of(stale));
        }
        assertThat(stale).exists();
        ControlAddress b = ControlAddress.parse("unix:" + stale);
        try (QmpServer s = server(b); QmpClient c = QmpClient.connect(b, Duration.ofSeconds(5))) {
            assertThat(c.execute("echo", QmpServer.JSON.readTree("{\"text\":\"ok\"}")).get("said").asText())
                    .isEqualTo("ok");
        }
    }

    @Test
    void addressesAreParsedWithClearErrors() {
        assertThat(ControlAddress.parse("unix:/tmp/x").isUnix()).isTrue();
        assertThat(ControlAddress.parse("tcp:127.0.0.1:4444").tcp().port()).isEqualTo(4444);
        assertThatThrownBy(() -> ControlAddress.parse("udp:1")).hasMessageContaining("unix:PATH or tcp:HOST:PORT");
        assertThatThrownBy(() -> ControlAddress.parse("unix:")).hasMessageContaining("needs a path");
    }
}
