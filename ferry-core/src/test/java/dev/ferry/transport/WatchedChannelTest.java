/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The watchdog gives up on a silent peer, and not on one whose bytes keep arriving. */
class WatchedChannelTest {
    @Test
    void silentPeerIsLostAfterTheTimeoutAndOneThatSendsIsNot() throws Exception {
        try (ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"));
                SocketChannel peer = SocketChannel.open(server.getLocalAddress());
                SocketChannel mine = server.accept()) {
            WatchedChannel c = new WatchedChannel(mine, "peer " + ((InetSocketAddress) peer.getLocalAddress())
                    .getPort(), Duration.ofMillis(300));
            ByteBuffer b = ByteBuffer.allocate(1);
            // A byte every 100 ms: well within the timeout, for three times its length.
            long end = System.nanoTime() + Duration.ofMillis(900).toNanos();
            while (System.nanoTime() < end) {
                Thread.ofVirtual().start(() -> {
                    try {
                        Thread.sleep(100);
                        peer.write(ByteBuffer.wrap(new byte[] {1}));
                    } catch (Exception e) {
                        // the test fails on the read below
                    }
                });
                b.clear();
                assertThat(c.read(b)).isEqualTo(1);
            }
            b.clear();
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> c.read(b)).isInstanceOf(WatchedChannel.PeerTimeoutException.class)
                    .hasMessageContaining("nothing received from peer").hasMessageEndingWith("for 300 ms: peer lost");
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
        }
    }
}
