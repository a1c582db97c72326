/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.stream.FrameType;
import dev.ferry.stream.StreamFixture;
import dev.ferry.stream.StreamFixture.Frame;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inspection of crafted sequential stream files: described as far as they can be, never obeyed. */
class StreamFileInspectionTest {
    @TempDir
    Path dir;

    /**
     * 28 KiB whose SETUP (with a valid CRC) lists 1024 blocks of 1 TiB: counting their pages in bitmaps sized from it
     * took 64 GiB, and inspect died with OutOfMemoryError. It is described, with what is wrong, and not restorable.
     */
    @Test
    void aSetupDeclaringAPetabyteIsDescribedWithoutExhaustingTheHeap() throws Exception {
        List<Frame> frames = new ArrayList<>();
        frames.add(new Frame(FrameType.HELLO.code, new byte[] {0, 0, 0, 0, 0, 0}));
        long[] blocks = new long[1024];
        java.util.Arrays.fill(blocks, 1L << 40);
        frames.add(StreamFixture.setup(1L << 50, 1, blocks));
        Path file = dir.resolve("petabyte.stream");
        Files.write(file, StreamFixture.assemble(frames));

        SnapshotInspector s = SnapshotInspector.inspect(file);

        assertThat(s.complete()).isFalse();
        assertThat(s.problem()).contains("SETUP at byte 34 declares 1024 TiB of guest RAM in 1024 blocks")
                .contains("more than this process can spare");
        assertThat(s.toMap()).containsEntry("ram-size", 1L << 50);
        assertThat(s.text()).contains("NOT restorable").contains("ram1023");
    }

    /** Restore loaded a file with bytes after COMPLETE as verified, while inspect called it damaged: they agree now. */
    @Test
    void bytesAfterTheCompleteRecordAreDamageToRestoreAndToInspect() throws Exception {
        Path file = dir.resolve("trailing.stream");
        try (var src = StreamFixture.idleGuest()) {
            byte[] whole = StreamFixture.migrate(src);
            byte[] trailing = java.util.Arrays.copyOf(whole, whole.length + 4);
            Files.write(file, trailing);
            String expected = "snapshot file " + file + " goes on after the COMPLETE record: data at byte "
                    + whole.length + ", where it should end (the file is corrupt)";
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> SnapshotFixture.restore(file))
                    .hasMessage(expected);
            SnapshotInspector s = SnapshotInspector.inspect(file);
            assertThat(s.complete()).isFalse();
            assertThat(s.problem()).isEqualTo(expected);
        }
    }
}
