/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.Records;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The primary's checkpointer against a standby written out by hand. */
class CheckpointerTest {
    @Test
    void primaryThatGivesUpOnItsStandbyTellsItWithAnAbort() throws Exception {
        InProcessGuest guest = InProcessGuest.create(new InProcessConfig(new long[] {8L << 20}, 1,
                "memtest,start=0,end=4M", 5, 0));
        guest.resume();
        CompletableFuture<String> ended = new CompletableFuture<>();
        try (ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"));
                SocketChannel primary = SocketChannel.open(server.getLocalAddress());
                SocketChannel standby = server.accept()) {
            Checkpointer c = new Checkpointer(guest, primary, "standby test", 10, true, 1 << 20,
                    new ReplicationStats(), ended::complete);
            c.seedCommitted();
            c.start();
            FrameReader in = new FrameReader(standby, "from the primary");
            FrameType t;
            while ((t = in.next()) != FrameType.CKPT_COMMIT) {
                assertThat(t).isNotNull();
            }
            long k = CheckpointRecords.Commit.read(in.payload()).checkpoint();
            FrameBuffer f = new FrameBuffer(64);
            new CheckpointRecords.Ack(k + 1).write(f); // not the checkpoint it sent: the primary gives up
            ByteBuffer b = f.finish();
            while (b.hasRemaining()) {
                standby.write(b);
            }
            assertThat(ended.get(10, TimeUnit.SECONDS)).contains("acknowledged checkpoint " + (k + 1));
            assertThat(in.next()).as("the primary's last word before it closes").isEqualTo(FrameType.ABORT);
            assertThat(Records.Reason.read(in.payload()).text()).startsWith("it gave up: ")
                    .contains("acknowledged checkpoint " + (k + 1) + " while " + k + " was expected");
            assertThat(in.next()).isNull();
        } finally {
            guest.close();
        }
    }
}
