/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.Guest;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.stream.StreamFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saves and restores of small guests in one JVM, both formats. */
class SnapshotRoundTripTest {
    @TempDir
    Path dir;

    @Test
    void mappedRamRoundTrip() throws Exception {
        Path file = dir.resolve("g.snap");
        try (InProcessGuest src = StreamFixture.idleGuest()) {
            SnapshotFixture.saveMappedRam(src, file);
            assertThat(Files.exists(SaveTarget.partialOf(file))).isFalse();
            try (Guest g = SnapshotFixture.restore(file)) {
                for (int b = 0; b < src.ramBlocks().size(); b++) {
                    assertThat(src.ramBlocks().get(b).memory().mismatch(g.ramBlocks().get(b).memory())).isEqualTo(-1);
                }
                assertThat(g.check().passed()).isTrue();
                assertThat(g.counters()).isEqualTo(src.counters());
            }
            System.out.println(SnapshotInspector.inspect(file).text());
        }
    }
}
