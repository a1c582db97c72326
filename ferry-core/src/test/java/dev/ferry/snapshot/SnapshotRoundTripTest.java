/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.policy.Decision;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.policy.XenPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.stream.StreamFixture;
import dev.ferry.stream.StreamFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saves and restores of small guests in one JVM, in both formats; sequential stream files and inspection. */
class SnapshotRoundTripTest {
    @TempDir
    Path dir;

    private static void assertSameRam(Guest a, Guest b) {
        for (int i = 0; i < a.ramBlocks().size(); i++) {
            assertThat(a.ramBlocks().get(i).memory().mismatch(b.ramBlocks().get(i).memory())).isEqualTo(-1);
        }
    }

    @Test
    void mappedRamRoundTripAndInspection() throws Exception {
        Path file = dir.resolve("g.snap");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            SnapshotFixture.saveMappedRam(src, file);
            assertThat(Files.exists(SaveTarget.partialOf(file))).isFalse();
            assertThat(Snapshots.ramSize(file)).isEqualTo(src.ramSize());
            try (Guest g = SnapshotFixture.restore(file)) {
                assertSameRam(src, g);
                assertThat(g.check().passed()).isTrue();
                assertThat(g.counters()).isEqualTo(src.counters());
            }
            SnapshotInspector s = SnapshotInspector.inspect(file);
            assertThat(s.complete()).isTrue();
            Map<String, Object> m = s.toMap();
            assertThat(m).containsEntry("format", "mapped-ram").containsEntry("version", 1)
                    .containsEntry("ram-size", src.ramSize()).containsEntry("exec-state-bytes", src.saveState().length);
            assertThat((Long) m.get("pages-present") + (Long) m.get("zero-pages")).isEqualTo(src.ramPages());
            assertThat(s.text()).contains("mapped-ram, version 1").contains("complete").contains("ram0")
                    .contains("ram1").contains("zero pages");
        }
    }

    /** What {@code restore --prealloc} faults in is read before the load: only from metadata that vouches for it. */
    @Test
    void theRamSizeToPreallocateComesOnlyFromACompleteFileAndFitsTheMachine() throws Exception {
        Path file = dir.resolve("g.snap");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            SnapshotFixture.saveMappedRam(src, file);
        }
        byte[] whole = Files.readAllBytes(file);
        Path cut = dir.resolve("cut.snap");
        Files.write(cut, Arrays.copyOf(whole, whole.length - MappedRamFormat.FOOTER_SIZE));
        assertThatThrownBy(() -> Snapshots.ramSize(cut)).isInstanceOfSatisfying(SnapshotFormatException.class,
                e -> assertThat(e.problem()).isEqualTo(SnapshotFormatException.Problem.INCOMPLETE));

        Path huge = dir.resolve("huge.stream");
        java.util.List<StreamFixture.Frame> frames = StreamFixture.frames(StreamFixture.migrate(StreamFixture
                .idleGuest()));
        Files.write(huge, StreamFixture.assemble(java.util.List.of(frames.get(StreamFixture.indexOf(frames,
                dev.ferry.stream.FrameType.HELLO)), StreamFixture.setup(1L << 40, 1, 1L << 40))));
        assertThatThrownBy(() -> Snapshots.ramSize(huge)).isInstanceOfSatisfying(StreamFormatException.class,
                e -> assertThat(e.problem()).isEqualTo(StreamFormatException.Problem.IMPOSSIBLE_SIZE))
                .hasMessageContaining("snapshot file " + huge + ": SETUP at byte ")
                .hasMessageContaining(" declares 1099511627776 bytes (1.0 TiB) of guest RAM, more than this machine's");
    }

    @Test
    void streamFileRoundTripAndInspection() throws Exception {
        Path file = dir.resolve("s.stream");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            PrecopyLoop.Outcome o = SnapshotFixture.save(src, new StreamFileSink(file), new XenPolicy(),
                    new MigrationParameters(), new MigrationStats(src.ramSize(), 4096));
            assertThat(o.completed()).as(o.message()).isTrue();
            assertThat(Files.exists(SaveTarget.partialOf(file))).isFalse();
            assertThat(Snapshots.detect(file)).isEqualTo(Snapshots.Format.STREAM);
            assertThat(Snapshots.ramSize(file)).isEqualTo(src.ramSize());
            try (Guest g = SnapshotFixture.restore(file)) {
                assertSameRam(src, g);
                assertThat(g.check().passed()).isTrue();
            }
            SnapshotInspector s = SnapshotInspector.inspect(file);
            assertThat(s.complete()).isTrue();
            @SuppressWarnings("unchecked")
            Map<String, Object> stream = (Map<String, Object>) s.toMap().get("stream");
            assertThat((Long) stream.get("rounds")).isGreaterThanOrEqualTo(2);
            assertThat((Long) stream.get("page-records")).isGreaterThanOrEqualTo(src.ramPages());
            assertThat(s.text()).contains("stream, version 1").contains("frames").contains("page records");
        }
    }

    @Test
    void aStreamFileCutAnywhereIsRefusedAsIncomplete() throws Exception {
        Path file = dir.resolve("s.stream");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            SnapshotFixture.save(src, new StreamFileSink(file), new XenPolicy(), new MigrationParameters(),
                    new MigrationStats(src.ramSize(), 4096));
        }
        byte[] whole = Files.readAllBytes(file);
        for (int cut : new int[] {20, 100, 5000, whole.length / 2, whole.length - 30, whole.length - 1}) {
            Path p = dir.resolve("cut-" + cut);
            Files.write(p, Arrays.copyOf(whole, cut));
            assertThatThrownBy(() -> SnapshotFixture.restore(p)).as("cut at %d", cut)
                    .isInstanceOf(StreamFormatException.class).hasMessageContaining("incomplete");
            assertThat(SnapshotInspector.inspect(p).complete()).isFalse();
        }
    }

    @Test
    void anAbortedStreamSaveLeavesNoFile() throws Exception {
        Path file = dir.resolve("a.stream");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            PrecopyPolicy abort = s -> s.totalWritten() > 0 ? Decision.ABORT : Decision.CONTINUE_PRECOPY;
            PrecopyLoop.Outcome o = SnapshotFixture.save(src, new StreamFileSink(file), abort,
                    new MigrationParameters(), new MigrationStats(src.ramSize(), 4096));
            assertThat(o.status()).isEqualTo(Status.CANCELLED);
        }
        try (var files = Files.list(dir)) {
            assertThat(files.toList()).isEmpty();
        }
    }

    @Test
    void directIoIsForMappedRamFiles() throws Exception {
        Path file = dir.resolve("s.stream");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            SnapshotFixture.save(src, new StreamFileSink(file), new XenPolicy(), new MigrationParameters(),
                    new MigrationStats(src.ramSize(), 4096));
        }
        assertThatThrownBy(() -> Snapshots.restore(file, true, new RestoreStats()))
                .hasMessageContaining("--direct-io reads mapped-ram snapshots");
    }

    @Test
    void somethingElseIsNotASnapshot() throws Exception {
        Path file = dir.resolve("text");
        Files.writeString(file, "hello, world\n");
        assertThatThrownBy(() -> SnapshotFixture.restore(file)).isInstanceOfSatisfying(SnapshotFormatException.class,
                e -> assertThat(e.problem()).isEqualTo(SnapshotFormatException.Problem.BAD_MAGIC))
                .hasMessageContaining("is not a Ferry snapshot");
        assertThatThrownBy(() -> SnapshotFixture.restore(dir)).hasMessageContaining("it is a directory");
    }
}
