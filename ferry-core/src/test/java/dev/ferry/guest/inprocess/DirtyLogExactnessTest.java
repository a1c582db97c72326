/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Concurrent vCPUs write while a collector syncs the dirty log and copies the dirty pages to a shadow, round after
 * round, as the precopy loop does. After a final sync with the guest paused the shadow must equal RAM: a write that
 * raced with a sync was either copied or reported again, never lost.
 */
class DirtyLogExactnessTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "memtest,start=0,end=8M | 4",
        "random,size=8,hot=0.05 | 2",
        "random,size=64,hot=0.5 | 3",
        "seed | 2"
    })
    void shadowCopyMatchesRamAfterConcurrentRounds(String workload, int vcpus) throws Exception {
        InProcessConfig config = new InProcessConfig(new long[] {12L << 20, 8L << 20}, vcpus, workload, 7, 0);
        try (InProcessGuest guest = InProcessGuest.create(config); Arena arena = Arena.ofConfined()) {
            List<RamBlock> blocks = guest.ramBlocks();
            MemorySegment[] shadow = new MemorySegment[blocks.size()];
            Bitmap[] dirty = new Bitmap[blocks.size()];
            for (int b = 0; b < blocks.size(); b++) {
                shadow[b] = arena.allocate(blocks.get(b).length(), Pages.SIZE);
                dirty[b] = new Bitmap(blocks.get(b).pages());
                dirty[b].setAll();
            }
            guest.dirtyLog().start();
            guest.resume();
            for (int round = 0; round < 200; round++) {
                copyDirty(blocks, shadow, dirty);
                for (int b = 0; b < blocks.size(); b++) {
                    guest.dirtyLog().sync(b, dirty[b]);
                }
            }
            guest.pause();
            for (int b = 0; b < blocks.size(); b++) {
                guest.dirtyLog().sync(b, dirty[b]);
            }
            copyDirty(blocks, shadow, dirty);
            for (int b = 0; b < blocks.size(); b++) {
                assertThat(blocks.get(b).memory().mismatch(shadow[b])).as("first differing byte of block " + b)
                        .isEqualTo(-1);
            }
            assertThat(guest.check().passed()).isTrue();
        }
    }

    private static void copyDirty(List<RamBlock> blocks, MemorySegment[] shadow, Bitmap[] dirty) {
        for (int b = 0; b < blocks.size(); b++) {
            for (long p = dirty[b].nextSetBit(0); p >= 0; p = dirty[b].nextSetBit(p + 1)) {
                dirty[b].clear(p);
                MemorySegment.copy(blocks.get(b).memory(), p << Pages.SHIFT, shadow[b], p << Pages.SHIFT, Pages.SIZE);
            }
        }
    }
}
