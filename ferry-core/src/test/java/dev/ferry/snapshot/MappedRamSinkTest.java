/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestDescriptor;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.memory.Pages;
import dev.ferry.policy.Decision;
import dev.ferry.policy.Policies;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.stream.PageBatch;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFixture;
import dev.ferry.stream.StreamFormat;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The mapped-ram writer: slots, bits, refusals before anything is written, crash-safe completion, bounded size. */
class MappedRamSinkTest {
    @TempDir
    Path dir;

    private static Records.Setup setup(long... blockBytes) {
        List<Records.BlockInfo> blocks = new java.util.ArrayList<>();
        long gpa = 0;
        for (int i = 0; i < blockBytes.length; i++) {
            blocks.add(new Records.BlockInfo("ram" + i, gpa, blockBytes[i], Pages.SIZE));
            gpa += blockBytes[i];
        }
        return new Records.Setup(new GuestDescriptor("test", Map.of("k", "v")), blocks);
    }

    /** Fills a batch of block 0 with NORMAL pages whose first byte is {@code fill}, or ZERO records. */
    private static void submit(PageSink sink, int block, long[] pages, byte fill, boolean zero) throws Exception {
        PageBatch b = sink.takeBatch();
        b.begin(block);
        for (long p : pages) {
            if (zero) {
                b.addZero(p);
            } else {
                int at = b.addNormal(p);
                b.segment().asSlice(at, Pages.SIZE).fill((byte) 0);
                b.segment().set(ValueLayout.JAVA_BYTE, at, fill);
            }
        }
        sink.submit(b);
    }

    private static byte slotByte(Path file, MappedRamFile f, int block, long page) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, f.blocks().get(block).pagesOffset() + page * Pages.SIZE);
            return one.get(0);
        }
    }

    private static MappedRamFile read(Path file) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return MappedRamFile.read(ch, "test", true);
        }
    }

    @Test
    void pagesGoToTheirSlotsZeroPagesClearTheirBitsAndRewritesStayInPlace() throws Exception {
        Path file = dir.resolve("slots.snap");
        try (MappedRamSink sink = new MappedRamSink(file, false)) {
            sink.open(setup(64 * Pages.SIZE, 8 * Pages.SIZE), 0);
            submit(sink, 0, new long[] {1, 2, 3, 10}, (byte) 'a', false);
            submit(sink, 1, new long[] {7}, (byte) 'b', false);
            submit(sink, 0, new long[] {2}, (byte) 0, true);            // re-dirtied to zero: bit cleared
            submit(sink, 0, new long[] {3}, (byte) 'c', false);         // re-dirtied: rewritten in its slot
            submit(sink, 0, new long[] {5}, (byte) 0, true);            // zero from the start: never written
            sink.endOfRound(1, 6);
            sink.executionState(new byte[] {1, 2, 3});
            assertThat(Files.exists(file)).as("nothing at the target before completion").isFalse();
            assertThat(Files.exists(SaveTarget.partialOf(file))).isTrue();
            sink.complete(8, 0x1234, Duration.ZERO);
        }
        assertThat(Files.exists(SaveTarget.partialOf(file))).isFalse();
        MappedRamFile f = read(file);
        assertThat(f.complete()).isTrue();
        assertThat(f.ramDigest()).isEqualTo(0x1234);
        assertThat(f.executionState()).containsExactly(1, 2, 3);
        MappedRamFile.Block b0 = f.blocks().get(0);
        assertThat(b0.present().get(1)).isTrue();
        assertThat(b0.present().get(2)).isFalse();
        assertThat(b0.present().get(3)).isTrue();
        assertThat(b0.present().get(5)).isFalse();
        assertThat(b0.present().get(10)).isTrue();
        assertThat(b0.pagesPresent()).isEqualTo(3);
        assertThat(f.blocks().get(1).present().get(7)).isTrue();
        assertThat(slotByte(file, f, 0, 1)).isEqualTo((byte) 'a');
        assertThat(slotByte(file, f, 0, 3)).isEqualTo((byte) 'c');
        assertThat(slotByte(file, f, 0, 10)).isEqualTo((byte) 'a');
        assertThat(slotByte(file, f, 1, 7)).isEqualTo((byte) 'b');
        assertThat(b0.pagesOffset() % (1 << 20)).isZero();
        assertThat(f.blocks().get(1).pagesOffset() % (1 << 20)).isZero();
        // Bounded: the file is the page areas (with their 1 MiB alignment), execution state and footer.
        assertThat(Files.size(file)).isEqualTo(f.pageAreasEnd() + 3 + MappedRamFormat.FOOTER_SIZE);
    }

    @Test
    void xbzrleIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path file = dir.resolve("x.snap");
        try (MappedRamSink sink = new MappedRamSink(file, false)) {
            assertThatThrownBy(() -> sink.open(setup(1 << 20), StreamFormat.CAP_XBZRLE))
                    .isInstanceOf(SaveTarget.RefusedException.class)
                    .hasMessageStartingWith("mapped-ram cannot be combined with xbzrle");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.toList()).isEmpty();
        }
    }

    @Test
    void anyOtherCapabilityIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path file = dir.resolve("x.snap");
        try (MappedRamSink sink = new MappedRamSink(file, false)) {
            assertThatThrownBy(() -> sink.open(setup(1 << 20), 0x10))
                    .hasMessageContaining("mapped-ram cannot be combined with capabilities 0x10");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.toList()).isEmpty();
        }
    }

    @Test
    void aFifoIsRefused() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available here");
        assertThatThrownBy(() -> new MappedRamSink(fifo, false)).isInstanceOf(SaveTarget.RefusedException.class)
                .hasMessage("cannot save mapped-ram to " + fifo + ": it is a FIFO (pipe), which cannot seek;"
                        + " mapped-ram writes every page at a fixed offset and needs a regular file");
    }

    @Test
    void aCharacterDeviceIsRefused() {
        assertThatThrownBy(() -> new MappedRamSink(Path.of("/dev/null"), false))
                .hasMessageContaining("cannot save mapped-ram to /dev/null: it is a character device, which cannot"
                        + " seek");
    }

    @Test
    void aSocketIsRefused() throws Exception {
        Path socket = dir.resolve("sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(socket));
            assertThatThrownBy(() -> new MappedRamSink(socket, false))
                    .hasMessageContaining("cannot save mapped-ram to " + socket + ": it is a socket");
        }
    }

    @Test
    void aSymbolicLinkIsFollowedAndKept() throws Exception {
        Path real = dir.resolve("real.snap");
        Path link = dir.resolve("link.snap");
        Files.writeString(real, "old");
        Files.createSymbolicLink(link, real);
        try (InProcessGuest g = StreamFixture.idleGuest()) {
            SnapshotFixture.saveMappedRam(g, link);
        }
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(read(real).complete()).isTrue();
    }

    @Test
    void anAbortedSaveLeavesThePreviousSnapshotAndNoPartialFile() throws Exception {
        Path file = dir.resolve("keep.snap");
        try (InProcessGuest g = StreamFixture.idleGuest()) {
            SnapshotFixture.saveMappedRam(g, file);
            byte[] before = Files.readAllBytes(file);
            PrecopyPolicy abortAfterABatch = s -> s.totalWritten() > 0 ? Decision.ABORT : Decision.CONTINUE_PRECOPY;
            g.resume();
            PrecopyLoop.Outcome o = SnapshotFixture.save(g, new MappedRamSink(file, false), abortAfterABatch,
                    new MigrationParameters(), new MigrationStats(g.ramSize(), 4096));
            assertThat(o.status()).isEqualTo(Status.CANCELLED);
            assertThat(Files.readAllBytes(file)).isEqualTo(before);
            assertThat(Files.exists(SaveTarget.partialOf(file))).isFalse();
        }
    }

    @Test
    void aSecondSaveToTheSameFileIsRefusedWhileTheFirstRuns() throws Exception {
        Path file = dir.resolve("busy.snap");
        try (MappedRamSink first = new MappedRamSink(file, false)) {
            first.open(setup(1 << 20), 0);
            try (MappedRamSink second = new MappedRamSink(file, false)) {
                assertThatThrownBy(() -> second.open(setup(1 << 20), 0))
                        .isInstanceOf(SaveTarget.RefusedException.class)
                        .hasMessageContaining("another save to " + dir.toRealPath().resolve("busy.snap")
                                + " is in progress");
            }
            submit(first, 0, new long[] {0}, (byte) 'a', false);
            first.executionState(new byte[1]);
            first.complete(1, 0, Duration.ZERO);
        }
        assertThat(read(file).complete()).as("the first save went on undisturbed").isTrue();
    }

    @Test
    void aPartialFileLeftBehindIsReplacedByTheNextSave() throws Exception {
        // A save killed before its rename leaves FILE.partial; the next save to FILE must not keep any of it
        // (here 8 MiB of 0xEE, longer than the new file, so that stale bytes past the new end would show).
        Path file = dir.resolve("left.snap");
        Path partial = SaveTarget.partialOf(file);
        byte[] junk = new byte[8 << 20];
        java.util.Arrays.fill(junk, (byte) 0xEE);
        Files.write(partial, junk);
        try (MappedRamSink sink = new MappedRamSink(file, false)) {
            sink.open(setup(16 * Pages.SIZE), 0);
            submit(sink, 0, new long[] {1}, (byte) 'a', false);
            sink.endOfRound(1, 1);
            sink.executionState(new byte[] {7});
            sink.complete(1, 0, Duration.ZERO);
        }
        assertThat(Files.exists(partial)).isFalse();
        MappedRamFile f = read(file);
        assertThat(f.complete()).isTrue();
        assertThat(Files.size(file)).isLessThan(junk.length);
        assertThat(slotByte(file, f, 0, 1)).isEqualTo((byte) 'a');
        assertThat(f.blocks().get(0).present().get(0)).as("a slot never written is absent").isFalse();
        assertThat(slotByte(file, f, 0, 0)).as("a slot never written holds no stale byte").isZero();
    }

    @Test
    void aPartialFileIsRefusedAsIncomplete() throws Exception {
        Path file = dir.resolve("p.snap");
        try (MappedRamSink sink = new MappedRamSink(file, false)) {
            sink.open(setup(4 << 20), 0);
            submit(sink, 0, new long[] {0, 1, 2}, (byte) 'a', false);
            sink.endOfRound(1, 3);
            Thread.sleep(200);
            Path partial = SaveTarget.partialOf(file);
            Path copy = dir.resolve("copy-of-partial");
            Files.copy(partial, copy);
            assertThatThrownBy(() -> SnapshotFixture.restore(copy))
                    .isInstanceOfSatisfying(SnapshotFormatException.class,
                            e -> assertThat(e.problem()).isEqualTo(SnapshotFormatException.Problem.INCOMPLETE))
                    .hasMessageContaining("incomplete");
            SnapshotInspector s = SnapshotInspector.inspect(copy);
            assertThat(s.complete()).isFalse();
            assertThat(s.text()).contains("NOT restorable").contains("incomplete").contains("ram0");
        }
    }

    @ParameterizedTest(name = "from guest memory: {0}")
    @ValueSource(booleans = {false, true})
    void directIoRoundTrip(boolean fromGuestMemory) throws Exception {
        Path file = dir.resolve("direct.snap");
        try {
            SaveTarget.of(file, true).probeDirect();
        } catch (SaveTarget.RefusedException e) {
            Assumptions.abort("the test directory's file system refuses O_DIRECT: " + e.getMessage());
        }
        try (InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {8L << 20, 3L << 20}, 1,
                "idle,zero=0.2", 7, 0))) {
            g.resume();
            while (!Boolean.TRUE.equals(g.counters().get("fill-complete"))) {
                Thread.sleep(5);
            }
            PrecopyLoop.Outcome o = SnapshotFixture.save(g, new MappedRamSink(file, true,
                    fromGuestMemory ? g.ramBlocks() : null),
                    new dev.ferry.policy.XenPolicy(), new MigrationParameters(), new MigrationStats(g.ramSize(), 4096));
            assertThat(o.completed()).as(o.message()).isTrue();
            RestoreStats stats = new RestoreStats();
            try (Guest r = Snapshots.restore(file, true, stats)) {
                for (int b = 0; b < 2; b++) {
                    assertThat(g.ramBlocks().get(b).memory().mismatch(r.ramBlocks().get(b).memory())).isEqualTo(-1);
                }
                assertThat(r.check().passed()).isTrue();
            }
            assertThat(stats.toMap()).containsEntry("direct-io", true);
        }
    }

    /**
     * A guest that rewrites 64 MiB over and over, saved live at 50 MB/s for 3 s: the mapped-ram file never grows
     * beyond RAM plus metadata while the save runs, and the same save as a sequential stream grows past the RAM.
     */
    @Test
    void aLiveSaveOfABusyGuestStaysWithinRamWhileAStreamGrowsPastIt() throws Exception {
        long ram = 128L << 20;
        long metadataBound = (1L << 20) + (1L << 20);
        try (InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {ram}, 1,
                "memtest,start=1M,end=65M", 5, 0))) {
            g.resume();
            MigrationParameters slow = new MigrationParameters().maxBandwidth(50_000_000);
            Path mapped = dir.resolve("bounded.snap");
            MappedRamSink sink = new MappedRamSink(mapped, false, g.ramBlocks());
            long largest = watchWhileSaving(g, sink, sink.partialFile(), slow);
            assertThat(largest).isLessThanOrEqualTo(ram + metadataBound);
            assertThat(Files.size(mapped)).isLessThanOrEqualTo(ram + metadataBound);
            assertThat(read(mapped).complete()).isTrue();

            g.resume();
            Path stream = dir.resolve("growing.snap");
            StreamFileSink ssink = new StreamFileSink(stream);
            watchWhileSaving(g, ssink, ssink.partialFile(), slow);
            assertThat(Files.size(stream)).isGreaterThan(ram);
            try (Guest r = SnapshotFixture.restore(stream)) {
                assertThat(r.check().passed()).isTrue();
            }
            try (Guest r = SnapshotFixture.restore(mapped)) {
                assertThat(r.check().passed()).isTrue();
            }
        }
    }

    /** Saves with a 3 s forced timeout, sampling the partial file's size; returns the largest size seen. */
    private static long watchWhileSaving(InProcessGuest g, PageSink sink, Path partial, MigrationParameters params)
            throws Exception {
        AtomicLong largest = new AtomicLong();
        AtomicReference<PrecopyLoop.Outcome> outcome = new AtomicReference<>();
        Thread saver = Thread.ofPlatform().start(() -> outcome.set(SnapshotFixture.save(g, sink,
                Policies.parse("downtime,timeout=3s,on-timeout=force"), params, new MigrationStats(g.ramSize(),
                        4096))));
        while (saver.isAlive()) {
            try {
                largest.accumulateAndGet(Files.size(partial), Math::max);
            } catch (java.nio.file.NoSuchFileException e) {
                // not created yet, or renamed already
            }
            Thread.sleep(20);
        }
        assertThat(outcome.get().completed()).as(outcome.get().message()).isTrue();
        return largest.get();
    }

    /**
     * A guest writing all the time, saved live both ways: from the loop's copies, and straight from guest memory
     * (where a page may change between the loop's hash and the write; it is then dirty and written again).
     */
    @ParameterizedTest(name = "from guest memory: {0}")
    @ValueSource(booleans = {false, true})
    void aBusyGuestSavedLiveRestoresToTheSameRam(boolean fromGuestMemory) throws Exception {
        Path file = dir.resolve("busy.snap");
        try (InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {16L << 20, 4L << 20}, 2,
                "random,wss=12M", 3, 0))) {
            g.resume();
            Thread.sleep(100);
            PrecopyLoop.Outcome o = SnapshotFixture.save(g, new MappedRamSink(file, false,
                    fromGuestMemory ? g.ramBlocks() : null),
                    new dev.ferry.policy.DowntimePolicy(), new MigrationParameters(),
                    new MigrationStats(g.ramSize(), 4096));
            assertThat(o.completed()).as(o.message()).isTrue();
            assertThat(g.isPaused()).as("the guest stops when the save completes").isTrue();
            try (Guest r = SnapshotFixture.restore(file)) {
                for (int b = 0; b < 2; b++) {
                    MemorySegment s = g.ramBlocks().get(b).memory();
                    assertThat(s.mismatch(r.ramBlocks().get(b).memory())).isEqualTo(-1);
                }
                assertThat(r.counters()).isEqualTo(g.counters());
                r.resume();
                Thread.sleep(100);
                r.pause();
                assertThat(r.check().passed()).isTrue();
            }
        }
    }
}
