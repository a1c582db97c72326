/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.Guest;
import dev.ferry.guest.PauseHolds;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.MigrationAbortedException;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.policy.Decision;
import dev.ferry.policy.DowntimePolicy;
import dev.ferry.policy.Policies;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFixture;
import dev.ferry.stream.StreamFormat;
import dev.ferry.stream.StreamHeader;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The precopy loop against a real destination over loopback TCP, in one JVM. */
class PrecopyLoopTest {
    private static final long[] RAM = {16L << 20, 4L << 20};

    /** What a destination thread ended with: a loaded guest or an exception. */
    private record Received(Guest guest, Throwable error) {
    }

    private interface Destination {
        Received serve(SocketChannel socket) throws Exception;
    }

    /** Plays a destination's side of the handshake: accepts the capabilities offered that {@code accept} has. */
    private static FrameReader answerHello(SocketChannel socket, int accept) throws IOException {
        FrameReader in = new FrameReader(socket, "test");
        in.readHeader();
        socket.write(StreamHeader.encode());
        in.next();
        int offered = Records.Hello.read(in.payload()).capabilities();
        FrameBuffer ack = new FrameBuffer(16);
        new Records.HelloAck(offered & accept).write(ack);
        socket.write(ack.finish());
        return in;
    }

    /** Reads frames until one of {@code type} (its payload left to read) or the end of the stream. */
    private static void readUntil(FrameReader in, FrameType type) throws IOException {
        FrameType t;
        while ((t = in.next()) != null && t != type) {
            // read on
        }
    }

    private static Destination loader(int capabilities) {
        return socket -> {
            try {
                Guest g = new StreamLoader(new FrameReader(socket, "test"), socket, capabilities,
                        new IncomingStats()).load();
                return new Received(g, null);
            } catch (Exception e) {
                return new Received(null, e);
            }
        };
    }

    private static final class Run implements AutoCloseable {
        final InProcessGuest guest;
        final MigrationStats stats;
        PrecopyLoop.Outcome outcome;
        Received received;
        /** When set, the source's channel is a {@link WatchedChannel} with this timeout, as the CLI's is. */
        Duration peerTimeout;
        Duration completionTimeout = Duration.ofSeconds(10);
        /** The loop, once {@link #migrate} made it (a destination may act on it). */
        volatile PrecopyLoop loop;
        /** The guest as the loop sees it: the guest itself, or a holder's view of it. */
        Guest migrating;

        Run(String workload) throws InterruptedException {
            guest = InProcessGuest.create(new InProcessConfig(RAM, 2, workload, 3, 0));
            guest.resume();
            Thread.sleep(100);
            stats = new MigrationStats(guest.ramSize(), 4096);
            migrating = guest;
        }

        Run migrate(PrecopyPolicy policy, MigrationParameters params, int capabilities, Destination destination)
                throws Exception {
            try (ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"))) {
                int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
                CompletableFuture<Received> dst = CompletableFuture.supplyAsync(() -> {
                    try (SocketChannel s = Tcp.accept(server)) {
                        return destination.serve(s);
                    } catch (Exception e) {
                        return new Received(null, e);
                    }
                });
                SocketChannel socket = Tcp.connect(new HostPort("127.0.0.1", port), Duration.ofSeconds(5));
                ByteChannel ch = peerTimeout == null ? socket
                        : new WatchedChannel(socket, "test destination", peerTimeout).watchReads(false);
                try (StreamSink sink = new StreamSink(ch, ch, "test destination")) {
                    loop = new PrecopyLoop(migrating, sink, policy, params, stats, null, capabilities,
                            completionTimeout);
                    outcome = loop.run();
                }
                received = dst.get(30, TimeUnit.SECONDS);
            }
            return this;
        }

        boolean guestKeepsRunning() throws InterruptedException {
            Map<String, Object> before = guest.counters();
            Thread.sleep(50);
            return !guest.isPaused() && !guest.counters().equals(before);
        }

        @Override
        public void close() {
            guest.close();
            if (received != null && received.guest() != null) {
                received.guest().close();
            }
        }
    }

    @Test
    void migratesEveryByteAndTheExecutionState() throws Exception {
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                loader(StreamFormat.KNOWN_CAPABILITIES))) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.COMPLETED);
            assertThat(r.outcome.handoverUnconfirmed()).as("the destination confirmed the handover").isFalse();
            assertThat(r.received.error()).isNull();
            Guest dst = r.received.guest();
            assertThat(r.guest.isPaused()).as("the source stops after the handover").isTrue();
            for (int b = 0; b < RAM.length; b++) {
                assertThat(r.guest.ramBlocks().get(b).memory().mismatch(dst.ramBlocks().get(b).memory()))
                        .isEqualTo(-1);
            }
            assertThat(dst.counters()).isEqualTo(r.guest.counters());
            assertThat(dst.check().passed()).isTrue();
            Map<String, Object> m = r.stats.toMap();
            assertThat(m.get("status")).isEqualTo("completed");
            assertThat(r.stats.downtimeMillis()).isGreaterThanOrEqualTo(0);
            @SuppressWarnings("unchecked")
            Map<String, Object> ram = (Map<String, Object>) m.get("ram");
            // The first round found the untouched pages zero and sent them as zero records.
            assertThat((Long) ram.get("duplicate")).isGreaterThan(1000);
            assertThat(r.stats.iterations().get(0).phase()).isEqualTo("bulk");
            assertThat(r.stats.iterations().getLast().phase()).isEqualTo("stop-and-copy");
        }
    }

    /**
     * A user who stops and resumes the guest over and over while it migrates (QMP {@code stop} and {@code cont}) must
     * not resume it during the switchover: the final copy would then miss what it wrote, and it would run on here
     * while the destination starts its copy.
     */
    @Test
    void stopAndContDuringTheMigrationNeverResumeTheGuestInItsSwitchover() throws Exception {
        for (int i = 0; i < 5; i++) {
            try (Run r = new Run("memtest,start=1M,end=12M")) {
                PauseHolds holds = new PauseHolds(r.guest);
                r.migrating = holds.holder("migration");
                Guest user = holds.holder("user");
                java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
                Thread toggler = Thread.ofPlatform().start(() -> {
                    while (!done.get()) {
                        user.pause();
                        user.resume();
                    }
                });
                try {
                    r.migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                            loader(StreamFormat.KNOWN_CAPABILITIES));
                    Thread.sleep(20); // the toggler goes on after the handover
                } finally {
                    done.set(true);
                    toggler.join();
                }
                assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.COMPLETED);
                assertThat(r.guest.isPaused()).as("migration %d: the source stays handed over", i).isTrue();
                Guest dst = r.received.guest();
                for (int b = 0; b < RAM.length; b++) {
                    assertThat(r.guest.ramBlocks().get(b).memory().mismatch(dst.ramBlocks().get(b).memory()))
                            .as("migration %d, block %d", i, b).isEqualTo(-1);
                }
                assertThat(dst.counters()).isEqualTo(r.guest.counters());
            }
        }
    }

    /**
     * A destination closes its connection as soon as it has read HANDOVER. The source must not take that for a lost
     * connection: once HANDOVER is written the guest belongs to the destination, and a source that resumed its own
     * copy would leave two running guests.
     */
    @Test
    void aDestinationClosingRightAfterTheHandoverIsNotAFailure() throws Exception {
        for (int i = 0; i < 40; i++) {
            try (InProcessGuest g = StreamFixture.idleGuest();
                    ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"))) {
                int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
                CompletableFuture<Received> dst = CompletableFuture.supplyAsync(() -> {
                    try (SocketChannel s = Tcp.accept(server)) {
                        return loader(StreamFormat.KNOWN_CAPABILITIES).serve(s);
                    } catch (Exception e) {
                        return new Received(null, e);
                    }
                });
                SocketChannel ch = Tcp.connect(new HostPort("127.0.0.1", port), Duration.ofSeconds(5));
                PrecopyLoop.Outcome o;
                try (StreamSink sink = new StreamSink(ch, ch, "test destination")) {
                    o = new PrecopyLoop(g, sink, new DowntimePolicy(), new MigrationParameters(),
                            new MigrationStats(g.ramSize(), 4096), null, 0, Duration.ofSeconds(10)).run();
                }
                Received r = dst.get(30, TimeUnit.SECONDS);
                if (r.guest() != null) {
                    r.guest().close();
                }
                assertThat(r.error()).isNull();
                assertThat(o.status()).as("migration %d: %s", i, o.message()).isEqualTo(Status.COMPLETED);
                assertThat(g.isPaused()).as("the source gave its guest up").isTrue();
            }
        }
    }

    /**
     * The destination reads HANDOVER and takes the guest over, but its confirmation is lost (here: the connection
     * goes as it writes HANDOVER_ACK). The source cannot tell this from a HANDOVER that never arrived, so it must
     * neither resume its copy (the destination runs one) nor report a confirmed handover: it keeps the guest paused.
     */
    @Test
    void aLostHandoverConfirmationKeepsTheSourceGuestPaused() throws Exception {
        Destination ackLost = socket -> {
            // The loader's fourth write is HANDOVER_ACK (after the stream header, HELLO_ACK and COMPLETE_ACK).
            WritableByteChannel dropsTheAck = new WritableByteChannel() {
                private int writes;

                @Override
                public int write(ByteBuffer b) throws IOException {
                    if (++writes == 4) {
                        socket.close();
                        throw new IOException("connection cut before HANDOVER_ACK");
                    }
                    return socket.write(b);
                }

                @Override
                public boolean isOpen() {
                    return socket.isOpen();
                }

                @Override
                public void close() throws IOException {
                    socket.close();
                }
            };
            IncomingStats stats = new IncomingStats();
            try {
                Guest g = new StreamLoader(new FrameReader(socket, "test"), dropsTheAck,
                        StreamFormat.KNOWN_CAPABILITIES, stats).load();
                assertThat(stats.toMap()).containsKey("handover-ack-failed");
                assertThat(stats.handoverAckFailure()).contains("connection cut before HANDOVER_ACK");
                return new Received(g, null);
            } catch (Exception e) {
                return new Received(null, e);
            }
        };
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                ackLost)) {
            assertThat(r.received.error()).as("the destination took the guest over").isNull();
            assertThat(r.received.guest().check().passed()).isTrue();
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.COMPLETED);
            assertThat(r.outcome.handoverUnconfirmed()).isTrue();
            assertThat(r.outcome.message()).contains("ended before it confirmed the handover");
            assertThat(r.stats.toMap()).containsKey("x-handover-unconfirmed");
            Map<String, Object> before = r.guest.counters();
            Thread.sleep(100);
            assertThat(r.guest.isPaused()).as("neither resumed nor dropped").isTrue();
            assertThat(r.guest.counters()).isEqualTo(before);
        }
    }

    /**
     * A destination that verified the copy and then goes away without reading HANDOVER never starts the guest. The
     * source either fails to write HANDOVER (then the destination cannot have it: the source resumes) or writes it
     * and gets no confirmation (it keeps the guest paused); it never takes the guest for handed over.
     */
    @Test
    void aDestinationGoneBeforeTheHandoverNeverLeavesTheGuestUnowned() throws Exception {
        for (int i = 0; i < 5; i++) {
            Destination goneAfterCompleteAck = socket -> {
                FrameReader in = answerHello(socket, ~0);
                readUntil(in, FrameType.COMPLETE);
                // Acknowledge with the source's own digest, then go without reading HANDOVER.
                FrameBuffer f = new FrameBuffer(16);
                new Records.CompleteAck(Records.Complete.read(in.payload()).ramDigest()).write(f);
                socket.write(f.finish());
                socket.close();
                return new Received(null, null);
            };
            try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(),
                    new MigrationParameters(), 0, goneAfterCompleteAck)) {
                if (r.outcome.status() == Status.FAILED) {
                    assertThat(r.guestKeepsRunning()).as("run %d: %s", i, r.outcome.message()).isTrue();
                } else {
                    assertThat(r.outcome.status()).isEqualTo(Status.COMPLETED);
                    assertThat(r.outcome.handoverUnconfirmed()).as("run %d: %s", i, r.outcome.message()).isTrue();
                    assertThat(r.guest.isPaused()).isTrue();
                }
            }
        }
    }

    /** A completed XBZRLE migration of the memory-test guest at 30 MB/s, with a cache of {@code cacheSize}. */
    private Run xbzrleMigration(long cacheSize, String policy) throws Exception {
        MigrationParameters slow = new MigrationParameters().maxBandwidth(30_000_000).xbzrleCacheSize(cacheSize);
        Run r = new Run("memtest,start=1M,end=12M").migrate(Policies.parse(policy), slow, StreamFormat.CAP_XBZRLE,
                loader(StreamFormat.KNOWN_CAPABILITIES));
        try {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.COMPLETED);
        } catch (AssertionError e) {
            r.close();
            throw e;
        }
        return r;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> xbzrleStats(Run r) {
        return (Map<String, Object>) r.stats.toMap().get("xbzrle-cache");
    }

    @Test
    void xbzrleSendsRePagesAsDeltasAndTheRamStillMatches() throws Exception {
        try (Run r = xbzrleMigration(32L << 20, "xen,max-iterations=4")) {
            for (int b = 0; b < RAM.length; b++) {
                assertThat(r.guest.ramBlocks().get(b).memory().mismatch(r.received.guest().ramBlocks().get(b)
                        .memory())).isEqualTo(-1);
            }
            Map<String, Object> x = xbzrleStats(r);
            assertThat((Long) x.get("deltas")).isGreaterThan(1000);
            // QEMU's meanings: pages are all the cache's hits; bytes, the deltas' plus a page per overflow
            assertThat((Long) x.get("pages")).isEqualTo((Long) x.get("deltas") + (Long) x.get("overflow")
                    + (Long) x.get("unchanged"));
            assertThat((Long) x.get("bytes")).isLessThan((Long) x.get("deltas") * 100 + (Long) x.get("overflow")
                    * 4096).isGreaterThanOrEqualTo((Long) x.get("overflow") * 4096);
            double rate = (Double) x.get("encoding-rate");
            assertThat(rate).as("the last round's pages x 4096 / its bytes").isPositive();
            assertThat(x.get("cache-size")).isEqualTo(32L << 20);
        }
    }

    @Test
    void anXbzrleCacheLargerThanTheGuestTakesOnlyWhatItsRamCanFill() throws Exception {
        // A 1 TiB cache allocated as asked would need some 11 GiB of index (this JVM has 2 GiB) for pages this
        // 20 MiB guest does not have: the migration must complete all the same.
        try (Run r = xbzrleMigration(1L << 40, "xen,max-iterations=3")) {
            assertThat(r.received.guest().check().passed()).isTrue();
            Map<String, Object> x = xbzrleStats(r);
            assertThat(x.get("cache-size")).isEqualTo(1L << 40); // the parameter, as QEMU reports it
            assertThat((Long) x.get("pages")).isGreaterThan(100);
        }
    }

    @Test
    void theXbzrleCacheCapacityIsWholePagesAndAtMostTheGuestsRam() {
        assertThat(MigrationParameters.xbzrleCacheCapacity(1L << 40, 20L << 20)).isEqualTo(20L << 20);
        assertThat(MigrationParameters.xbzrleCacheCapacity((64L << 20) + 100, 1L << 30)).isEqualTo(64L << 20);
        assertThat(MigrationParameters.xbzrleCacheCapacity(1L << 30, 1L << 30)).isEqualTo(1L << 30);
        assertThat(MigrationParameters.xbzrleCacheCapacity(4095, 1L << 30)).isZero();
    }

    @Test
    void policyAbortLeavesTheSourceRunningAndStartsNothing() throws Exception {
        PrecopyPolicy abortAtRound2 = s -> s.iteration() >= 1 ? Decision.ABORT : Decision.CONTINUE_PRECOPY;
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(abortAtRound2, new MigrationParameters(), 0,
                loader(StreamFormat.KNOWN_CAPABILITIES))) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.CANCELLED);
            assertThat(r.guestKeepsRunning()).isTrue();
            assertThat(r.received.error()).isInstanceOf(MigrationAbortedException.class)
                    .hasMessageContaining("decided to abort");
            assertThat(r.received.guest()).isNull();
        }
    }

    @Test
    void timeoutForcesStopAndCopyOfANonConvergingGuest() throws Exception {
        MigrationParameters slow = new MigrationParameters().maxBandwidth(20_000_000).downtimeLimitMillis(10);
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(Policies.parse("downtime,timeout=1s,on-timeout=force"),
                slow, 0, loader(StreamFormat.KNOWN_CAPABILITIES))) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.COMPLETED);
            assertThat(r.received.guest().check().passed()).isTrue();
            assertThat(r.stats.totalTimeMillis()).as(r.stats.toMap().toString()).isGreaterThanOrEqualTo(1000);
            // 11 MiB of dirty pages at 20 MB/s cannot fit 10 ms: the real downtime shows it.
            assertThat(r.stats.downtimeMillis()).isGreaterThan(100);
        }
    }

    @Test
    void destinationRefusalFailsBeforeAnyPageAndTheGuestRuns() throws Exception {
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(), new MigrationParameters(),
                StreamFormat.CAP_XBZRLE, loader(StreamFormat.CAP_HANDOVER_ACK))) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).contains("refused the migration").contains("xbzrle");
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    @Test
    @Timeout(60) // without the watch on the HELLO_ACK wait, the source waits forever
    void aDestinationSilentAfterTheHelloIsLostAfterThePeerTimeoutAndTheGuestRuns() throws Exception {
        Destination silent = socket -> {
            FrameReader in = new FrameReader(socket, "test");
            in.readHeader();
            in.next(); // HELLO, never answered
            ByteBuffer b = ByteBuffer.allocate(4096);
            try {
                while (socket.read(b.clear()) >= 0) {
                    // swallow until the source gives up
                }
            } catch (IOException e) {
                // the source closed
            }
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M")) {
            r.peerTimeout = Duration.ofMillis(300);
            long t0 = System.nanoTime();
            r.migrate(new DowntimePolicy(), new MigrationParameters(), 0, silent);
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).contains("nothing received from test destination").contains("peer lost");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    @Test
    void connectionLostMidStreamFailsAndTheGuestRuns() throws Exception {
        Destination cutAfterFiveFrames = socket -> {
            FrameReader in = answerHello(socket, 0);
            for (int i = 0; i < 5; i++) {
                in.next();
            }
            socket.close();
            return new Received(null, null);
        };
        try (Run r = new Run("random,wss=12M").migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                cutAfterFiveFrames)) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).contains("lost connection to test destination");
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    @Test
    void failureAfterThePauseResumesTheSourceGuest() throws Exception {
        // A destination that accepts everything but never confirms completion: it closes at COMPLETE.
        Destination dropAtComplete = socket -> {
            FrameReader in = answerHello(socket, 0);
            readUntil(in, FrameType.COMPLETE);
            socket.close();
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                dropAtComplete)) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.guestKeepsRunning()).as("paused for stop-and-copy, resumed after the failure").isTrue();
        }
    }

    @Test
    void abortRequestTakesEffectAtTheNextBatch() throws Exception {
        try (Run r = new Run("memtest,start=1M,end=12M")) {
            PrecopyLoop[] loop = new PrecopyLoop[1];
            PrecopyPolicy never = s -> Decision.CONTINUE_PRECOPY;
            CompletableFuture.runAsync(() -> {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    return;
                }
                loop[0].requestAbort("operator cancelled");
            });
            try (ServerSocketChannel server = Tcp.listen(HostPort.parse("127.0.0.1:0"))) {
                int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
                CompletableFuture<Received> dst = CompletableFuture.supplyAsync(() -> {
                    try (SocketChannel s = Tcp.accept(server)) {
                        return loader(StreamFormat.CAP_HANDOVER_ACK).serve(s);
                    } catch (Exception e) {
                        return new Received(null, e);
                    }
                });
                SocketChannel ch = Tcp.connect(new HostPort("127.0.0.1", port), Duration.ofSeconds(5));
                try (StreamSink sink = new StreamSink(ch, ch, "test destination")) {
                    loop[0] = new PrecopyLoop(r.guest, sink, never, new MigrationParameters().maxBandwidth(50_000_000),
                            r.stats, null, 0, Duration.ofSeconds(10));
                    r.outcome = loop[0].run();
                }
                r.received = dst.get(30, TimeUnit.SECONDS);
            }
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.CANCELLED);
            assertThat(r.outcome.message()).isEqualTo("operator cancelled");
            assertThat(r.received.error()).hasMessageContaining("operator cancelled");
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    /** Swallows what the source sends until it closes the connection. */
    private static void drain(SocketChannel socket) {
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        try {
            while (socket.read(b.clear()) >= 0) {
                // read on
            }
        } catch (IOException e) {
            // the source closed
        }
    }

    /**
     * A HANDOVER_ACK before any HANDOVER answers nothing: the source took it for the confirmation and its return-path
     * reader ended, so the destination's COMPLETE_ACK went unread and the guest stayed paused for the whole
     * completion timeout. It is a protocol error: the migration fails at once and the guest keeps running.
     */
    @Test
    void aHandoverAckBeforeTheHandoverIsAProtocolErrorAndTheGuestRuns() throws Exception {
        Destination early = socket -> {
            answerHello(socket, ~0);
            FrameBuffer ack = new FrameBuffer(0);
            ack.begin(FrameType.HANDOVER_ACK);
            socket.write(ack.finish());
            drain(socket);
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M")) {
            long t0 = System.nanoTime();
            r.migrate(new DowntimePolicy(), new MigrationParameters(), 0, early);
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).isEqualTo("return path from test destination: HANDOVER_ACK frame at"
                    + " byte 32 before the source sent HANDOVER: protocol error");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(r.completionTimeout);
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    /** A COMPLETE_ACK before any COMPLETE vouches for nothing: a protocol error too, found before the pause. */
    @Test
    void aCompleteAckBeforeTheCompletionIsAProtocolErrorAndTheGuestRuns() throws Exception {
        Destination early = socket -> {
            answerHello(socket, ~0);
            FrameBuffer ack = new FrameBuffer(16);
            new Records.CompleteAck(0).write(ack);
            socket.write(ack.finish());
            drain(socket);
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M").migrate(new DowntimePolicy(), new MigrationParameters(), 0,
                early)) {
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).isEqualTo("return path from test destination: COMPLETE_ACK frame at"
                    + " byte 32 before the source sent COMPLETE: protocol error");
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    /**
     * A cancel (the CLI's --run-for ending, migrate_cancel) while the destination verifies: the source waited out the
     * completion timeout with its guest paused. Nothing is handed over yet, so it aborts at once and resumes.
     */
    @Test
    void aCancelWhileTheDestinationVerifiesAbortsAtOnceAndTheGuestRuns() throws Exception {
        long[] cancelledAt = new long[1];
        FrameType[] after = new FrameType[1];
        Run[] run = new Run[1];
        Destination neverConfirms = socket -> {
            FrameReader in = answerHello(socket, ~0);
            readUntil(in, FrameType.COMPLETE);
            cancelledAt[0] = System.nanoTime();
            run[0].loop.requestAbort("the process is exiting");
            after[0] = in.next();
            drain(socket);
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M")) {
            run[0] = r;
            r.migrate(new DowntimePolicy(), new MigrationParameters(), 0, neverConfirms);
            long waited = System.nanoTime() - cancelledAt[0];
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.CANCELLED);
            assertThat(r.outcome.message()).isEqualTo("the process is exiting");
            assertThat(Duration.ofNanos(waited)).isLessThan(Duration.ofSeconds(3));
            assertThat(after[0]).as("the destination is told").isEqualTo(FrameType.ABORT);
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }

    /** A destination that never confirms completion: the source gives up after the timeout and its guest resumes. */
    @Test
    void aDestinationThatNeverConfirmsCompletionFailsAfterTheTimeoutAndTheGuestResumes() throws Exception {
        Destination neverConfirms = socket -> {
            readUntil(answerHello(socket, ~0), FrameType.COMPLETE);
            drain(socket);
            return new Received(null, null);
        };
        try (Run r = new Run("memtest,start=1M,end=12M")) {
            r.completionTimeout = Duration.ofSeconds(1);
            r.migrate(new DowntimePolicy(), new MigrationParameters(), 0, neverConfirms);
            assertThat(r.outcome.status()).as(r.outcome.message()).isEqualTo(Status.FAILED);
            assertThat(r.outcome.message()).isEqualTo("test destination did not confirm completion within 1 s of the"
                    + " COMPLETE record, the guest paused all that time: nothing was handed over");
            assertThat(r.guestKeepsRunning()).isTrue();
        }
    }
}
