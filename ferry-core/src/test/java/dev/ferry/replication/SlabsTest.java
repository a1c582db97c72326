/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.memory.Pages;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class SlabsTest {
    private static void stage(Slabs s, int pages, MemorySegment src) {
        s.clear();
        for (int i = 0; i < pages; i++) {
            s.add(0, i, src, (long) i * Pages.SIZE);
        }
        s.finish();
    }

    @Test
    void growsForLargeCheckpointsAndKeepsPageContents() {
        try (Arena a = Arena.ofConfined(); Slabs s = new Slabs(4 * Pages.SIZE, 3)) {
            MemorySegment src = a.allocate(20L * Pages.SIZE);
            for (int i = 0; i < 20; i++) {
                src.set(ValueLayout.JAVA_INT, (long) i * Pages.SIZE, i + 100);
            }
            stage(s, 10, src);
            assertThat(s.slabCount()).isEqualTo(3);
            assertThat(s.count()).isEqualTo(10);
            for (int i = 0; i < 10; i++) {
                assertThat(s.page(i)).isEqualTo(i);
                assertThat(s.segment(i).get(ValueLayout.JAVA_INT, s.offset(i))).isEqualTo(i + 100);
            }
            long allocations = s.allocations();
            stage(s, 10, src);
            assertThat(s.allocations()).as("steady state allocates nothing").isEqualTo(allocations);
        }
    }

    @Test
    void strikesHalveTheSlabsButNeverBelowOne() {
        try (Arena a = Arena.ofConfined(); Slabs s = new Slabs(Pages.SIZE, 3)) {
            MemorySegment src = a.allocate(64L * Pages.SIZE);
            stage(s, 64, src);
            assertThat(s.slabCount()).isEqualTo(64);
            // Three checkpoints each smaller than the one before: one halving.
            stage(s, 10, src);
            stage(s, 9, src);
            assertThat(s.slabCount()).isEqualTo(64);
            stage(s, 8, src);
            assertThat(s.slabCount()).isEqualTo(32);
            // A checkpoint as large as the previous resets the strikes.
            stage(s, 8, src);
            stage(s, 7, src);
            stage(s, 6, src);
            assertThat(s.slabCount()).isEqualTo(32);
            stage(s, 5, src);
            assertThat(s.slabCount()).isEqualTo(16);
            for (int i = 4; i >= 0; i--) {
                stage(s, i, src);
            }
            for (int i = 0; i < 30; i++) {
                stage(s, 0, src);
                stage(s, 0, src);
            }
            assertThat(s.slabCount()).isGreaterThanOrEqualTo(1);
            assertThat(s.releases()).isGreaterThan(0);
        }
    }
}
