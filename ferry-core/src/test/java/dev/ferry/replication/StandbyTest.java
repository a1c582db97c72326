/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.memory.Pages;
import dev.ferry.policy.XenPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PageBatch;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * A standby fed by a primary written out by hand after a real seed: valid checkpoints are acknowledged and applied,
 * a corrupt one is refused (the committed state stays), a truncated one is discarded at failover.
 */
class StandbyTest {
    private static final long RAM = 8L << 20;

    /** A seeded standby in a thread, and the primary's end of the connection. */
    private static final class Pair implements AutoCloseable {
        final InProcessGuest primary;
        final SocketChannel channel;
        final CompletableFuture<Standby.Outcome> standby;
        final FrameReader replies;
        final StandbyStats stats = new StandbyStats();

        Pair() throws Exception {
            primary = InProcessGuest.create(new InProcessConfig(new long[] {RAM}, 1, "memtest,start=0,end=4M", 5, 0));
            primary.resume();
            ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"));
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            standby = CompletableFuture.supplyAsync(() -> {
                try (server; SocketChannel s = Tcp.accept(server)) {
                    return new Standby(new FrameReader(s, "test"), s, new IncomingStats(), stats).run(1 << 20);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            channel = Tcp.connect(new HostPort("127.0.0.1", port), Duration.ofSeconds(5));
            try (StreamSink sink = new StreamSink(channel, channel, "standby").releaseAfterCompletion()) {
                PrecopyLoop.Outcome o = new PrecopyLoop(primary, sink, new XenPolicy(), new MigrationParameters(),
                        new MigrationStats(RAM, 4096), null, 0, Duration.ofSeconds(10))
                        .switchover((g, s) -> {
                            ((StreamSink) s).detach();
                            return false; // keep the primary paused: the test writes checkpoints by hand
                        }).run();
                assertThat(o.completed()).as(o.message()).isTrue();
            }
            replies = new FrameReader(channel, "replies");
        }

        /** Sends checkpoint {@code k}: the given pages (filled with {@code fill}), a state, a commit. */
        void checkpoint(long k, long[] pages, byte fill, boolean corruptDigest, boolean cutShort) throws IOException {
            checkpoint(k, pages, fill, primary.saveState(), corruptDigest, cutShort);
        }

        /** Sends checkpoint {@code k} with the given execution state, its digest correct unless told otherwise. */
        void checkpoint(long k, long[] pages, byte fill, byte[] state, boolean corruptDigest, boolean cutShort)
                throws IOException {
            FrameBuffer f = new FrameBuffer(1 << 16);
            new CheckpointRecords.Start(k, pages.length, state.length).write(f);
            write(f.finish());
            CRC32C digest = new CRC32C();
            CRC32C crc = new CRC32C();
            PageBatch batch = new PageBatch();
            batch.begin(0, FrameType.CKPT_PAGES);
            byte[] data = new byte[Pages.SIZE];
            java.util.Arrays.fill(data, fill);
            for (long p : pages) {
                int at = batch.addNormal(p);
                MemorySegment.copy(MemorySegment.ofArray(data), 0, batch.segment(), at, Pages.SIZE);
                crc.reset();
                crc.update(data);
                digest.update(le((int) crc.getValue()));
            }
            write(batch.finish());
            if (cutShort) {
                channel.close();
                return;
            }
            f.begin(FrameType.CKPT_STATE).put(state);
            write(f.finish());
            crc.reset();
            crc.update(state);
            digest.update(le((int) crc.getValue()));
            int d = (int) digest.getValue() ^ (corruptDigest ? 1 : 0);
            new CheckpointRecords.Commit(k, pages.length, d).write(f);
            write(f.finish());
        }

        FrameType reply() throws IOException {
            return replies.next();
        }

        private static ByteBuffer le(int v) {
            return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).flip();
        }

        void write(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                channel.write(b);
            }
        }

        /** Closes the connection, as a primary does once it has read a NACK or dies, and waits for the standby. */
        Standby.Outcome outcome() throws Exception {
            channel.close();
            return standby.get(30, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws Exception {
            channel.close();
            primary.close();
            Standby.Outcome o = standby.get(30, TimeUnit.SECONDS);
            if (o.guest() != null) {
                o.guest().close();
            }
        }
    }

    private static byte byteAt(InProcessGuest g, long page) {
        return g.ramBlocks().get(0).memory().get(ValueLayout.JAVA_BYTE, (page << Pages.SHIFT) + 100);
    }

    @Test
    void committedCheckpointsAreAppliedAndSurviveFailover() throws Exception {
        try (Pair p = new Pair()) {
            p.checkpoint(1, new long[] {1500, 1501}, (byte) 7, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            p.checkpoint(2, new long[] {1501}, (byte) 9, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            p.channel.close();
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isTrue();
            assertThat(o.committed()).isEqualTo(2);
            InProcessGuest g = (InProcessGuest) o.guest();
            assertThat(byteAt(g, 1500)).isEqualTo((byte) 7);
            assertThat(byteAt(g, 1501)).isEqualTo((byte) 9);
        }
    }

    @Test
    void corruptCheckpointIsRefusedAndTheCommittedStateKept() throws Exception {
        try (Pair p = new Pair()) {
            p.checkpoint(1, new long[] {1500}, (byte) 7, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            p.checkpoint(2, new long[] {1500}, (byte) 9, true, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_NACK);
            assertThat(CheckpointRecords.Nack.read(p.replies.payload()).reason()).contains("digest mismatch");
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).as("the primary is alive: no takeover").isFalse();
            assertThat(o.committed()).isEqualTo(1);
            assertThat(o.reason()).contains("checkpoint 2 refused").contains("keeping checkpoint 1");
            assertThat(p.stats.toMap().get("checkpoints-rejected")).isEqualTo(1L);
        }
    }

    @Test
    void truncatedCheckpointIsDiscardedAtFailover() throws Exception {
        try (Pair p = new Pair()) {
            p.checkpoint(1, new long[] {1500}, (byte) 7, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            p.checkpoint(2, new long[] {1500, 1600}, (byte) 9, false, true);
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isTrue();
            assertThat(o.committed()).isEqualTo(1);
            assertThat(byteAt((InProcessGuest) o.guest(), 1500)).as("checkpoint 2 never applied").isEqualTo((byte) 7);
            assertThat(byteAt((InProcessGuest) o.guest(), 1600)).isNotEqualTo((byte) 9);
        }
    }

    @Test
    void checkpointWhoseStateDoesNotLoadIsRefusedAndTheAcknowledgedOneSurvivesFailover() throws Exception {
        try (Pair p = new Pair()) {
            p.checkpoint(1, new long[] {1500}, (byte) 7, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            byte[] good = p.primary.saveState();
            byte[] garbage = java.util.Arrays.copyOf(good, good.length - 3); // digest-valid, but cut short
            p.checkpoint(2, new long[] {1500}, (byte) 9, garbage, false, false);
            assertThat(p.reply()).as("a state that does not load is not acknowledged").isEqualTo(FrameType.CKPT_NACK);
            assertThat(CheckpointRecords.Nack.read(p.replies.payload()).reason())
                    .contains("checkpoint 2: its execution state does not load");
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isFalse();
            assertThat(o.committed()).isEqualTo(1);
        }
    }

    @Test
    void failoverResumesTheExecutionStateOfTheLastAcknowledgedCheckpoint() throws Exception {
        try (Pair p = new Pair()) {
            // The primary runs on after the seed: checkpoint 1's state is not the seed's.
            p.primary.resume();
            Thread.sleep(50);
            p.primary.pause();
            byte[] state = p.primary.saveState();
            p.checkpoint(1, new long[] {1500}, (byte) 7, state, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            p.channel.close();
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isTrue();
            assertThat(o.guest().saveState()).isEqualTo(state);
        }
    }

    @Test
    void checkpointAnnouncingMorePagesThanTheGuestHasIsRefused() throws Exception {
        try (Pair p = new Pair()) {
            long pages = RAM / Pages.SIZE;
            FrameBuffer f = new FrameBuffer(1 << 12);
            new CheckpointRecords.Start(1, pages + 1, 16).write(f);
            p.write(f.finish());
            new CheckpointRecords.Commit(1, pages + 1, 0).write(f);
            p.write(f.finish());
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_NACK);
            assertThat(CheckpointRecords.Nack.read(p.replies.payload()).reason())
                    .contains("checkpoint 1 announces " + (pages + 1) + " page records, the guest has " + pages
                            + " pages");
            assertThat(p.outcome().failover()).isFalse();
        }
    }

    @Test
    void pageSentTwiceInOneCheckpointIsRefused() throws Exception {
        try (Pair p = new Pair()) {
            p.checkpoint(1, new long[] {1500, 1501}, (byte) 7, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_ACK);
            // The same pages again in the next checkpoint are fine; twice within one is not.
            p.checkpoint(2, new long[] {1500, 1501, 1500}, (byte) 9, false, false);
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_NACK);
            assertThat(CheckpointRecords.Nack.read(p.replies.payload()).reason())
                    .contains("checkpoint 2 sends page 1500 of block 0 twice");
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isFalse();
            assertThat(o.committed()).isEqualTo(1);
        }
    }

    @Test
    void outOfOrderCheckpointIsAProtocolError() throws Exception {
        try (Pair p = new Pair()) {
            // START alone: the standby refuses it at once (the next test sends a whole checkpoint after it).
            FrameBuffer f = new FrameBuffer(1 << 10);
            new CheckpointRecords.Start(5, 1, p.primary.saveState().length).write(f);
            p.write(f.finish());
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_NACK);
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isFalse();
            assertThat(o.reason()).contains("checkpoint 5 follows committed checkpoint 0");
        }
    }

    @Test
    void aRefusedPrimaryThatIsStillSendingReadsTheRefusalAndItsReason() throws Exception {
        try (Pair p = new Pair()) {
            // A primary reads the answer only after its whole checkpoint is out. The standby refuses at START; had
            // it closed at once, the writes below (more than both sockets' buffers) would meet a reset instead.
            FrameBuffer f = new FrameBuffer(1 << 10);
            new CheckpointRecords.Start(7, 2048, p.primary.saveState().length).write(f);
            p.write(f.finish());
            PageBatch batch = new PageBatch();
            for (int frame = 0; frame < 20; frame++) {
                batch.begin(0, FrameType.CKPT_PAGES);
                for (int page = 0; !batch.isFull(); page++) {
                    batch.addNormal(page);
                }
                p.write(batch.finish());
            }
            assertThat(p.reply()).isEqualTo(FrameType.CKPT_NACK);
            CheckpointRecords.Nack nack = CheckpointRecords.Nack.read(p.replies.payload());
            assertThat(nack.checkpoint()).as("the one the standby expected").isEqualTo(1);
            assertThat(nack.reason()).contains("checkpoint 7 follows committed checkpoint 0");
            Standby.Outcome o = p.outcome();
            assertThat(o.failover()).isFalse();
            assertThat(o.reason()).contains("checkpoint 1 refused").contains("checkpoint 7 follows committed checkpoint 0");
        }
    }
}
