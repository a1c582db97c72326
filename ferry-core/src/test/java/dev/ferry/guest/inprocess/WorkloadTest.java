/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.GuestCheck;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WorkloadTest {
    private static final long[] RAM = {24L << 20, 8L << 20};

    private static InProcessGuest start(String workload, int vcpus) throws InterruptedException {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(RAM, vcpus, workload, 11, 0));
        g.resume();
        Thread.sleep(150);
        g.pause();
        return g;
    }

    @ParameterizedTest
    @ValueSource(strings = {"memtest,start=1M,end=20M", "seed", "random,wss=30M,size=64", "idle"})
    void checkPassesAfterRunningAndStateCarriesOverToACopy(String workload) throws Exception {
        try (InProcessGuest g = start(workload, 2)) {
            GuestCheck check = g.check();
            assertThat(check.passed()).as(check.detail()).isTrue();
            byte[] state = g.saveState();
            Map<String, Object> before = g.counters();
            try (InProcessGuest copy = InProcessGuest.create(g.config())) {
                for (int b = 0; b < RAM.length; b++) {
                    MemorySegment.copy(g.ramBlocks().get(b).memory(), 0, copy.ramBlocks().get(b).memory(), 0,
                            RAM[b]);
                }
                copy.loadState(state);
                assertThat(copy.counters()).isEqualTo(before);
                assertThat(copy.check().passed()).isTrue();
                copy.resume();
                Thread.sleep(100);
                copy.pause();
                assertThat(copy.check().passed()).as(copy.check().detail()).isTrue();
                if (!workload.equals("idle")) {
                    assertThat(copy.counters()).isNotEqualTo(before);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"memtest,start=1M,end=20M", "seed", "random,wss=30M,size=64", "idle,zero=0"})
    void checkCatchesAChangedByte(String workload) throws Exception {
        try (InProcessGuest g = start(workload, 1)) {
            RamBlock block = g.ramBlocks().get(0);
            // A byte inside the workload's memory: page 300 (within every workload's range above).
            long at = (300L << 12) + (workload.startsWith("seed") ? 1024 : 0);
            block.memory().set(ValueLayout.JAVA_BYTE, at, (byte) (block.memory().get(ValueLayout.JAVA_BYTE, at) + 3));
            GuestCheck check = g.check();
            assertThat(check.passed()).isFalse();
            assertThat(check.detail()).contains(g.workloadName());
        }
    }

    @Test
    void checkCatchesAWriteOutsideTheWorkload() throws Exception {
        try (InProcessGuest g = start("memtest,start=1M,end=2M", 1)) {
            g.ramBlocks().get(1).memory().set(ValueLayout.JAVA_BYTE, 5000, (byte) 1);
            assertThat(g.check().detail()).contains("outside the workload's memory");
        }
    }

    @Test
    void loadStateRefusesGarbageAndMismatches() throws Exception {
        try (InProcessGuest memtest = start("memtest", 1);
                InProcessGuest seed = InProcessGuest.create(new InProcessConfig(RAM, 1, "seed", 11, 0));
                InProcessGuest twoCpus = InProcessGuest.create(new InProcessConfig(RAM, 2, "memtest", 11, 0));
                InProcessGuest fresh = InProcessGuest.create(new InProcessConfig(RAM, 1, "memtest", 11, 0))) {
            byte[] state = memtest.saveState();
            assertThatThrownBy(() -> seed.loadState(state)).isInstanceOf(GuestException.class)
                    .hasMessageContaining("for workload 'memtest'");
            assertThatThrownBy(() -> twoCpus.loadState(state)).hasMessageContaining("has 1 vCPUs, this guest 2");
            assertThatThrownBy(() -> fresh.loadState(new byte[] {1, 2, 3})).hasMessageContaining("truncated");
            assertThatThrownBy(() -> fresh.loadState(new byte[16])).hasMessageContaining("not an in-process");
            byte[] bad = state.clone();
            // The writer position (first field of the vCPU state) made unaligned.
            bad[bad.length - 24 + 7] ^= 1;
            assertThatThrownBy(() -> fresh.loadState(bad)).hasMessageContaining("memtest writer position");
        }
    }

    @Test
    void rateLimitKeepsStoresNearTheRate() throws Exception {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(RAM, 2, "memtest,start=1M,end=20M", 1, 20_000));
        try (g) {
            g.resume();
            Thread.sleep(1000);
            g.pause();
            long increments = ((Number) g.counters().get("increments")).longValue();
            // Within a wide band: this checks that the limit works, not how precisely.
            assertThat(increments).isBetween(10_000L, 30_000L);
        }
    }

    @Test
    void impossibleConfigurationsAreRefusedWithTheReason() {
        assertThatThrownBy(() -> InProcessGuest.create(new InProcessConfig(RAM, 1, "memtest,end=1G", 1, 0)))
                .hasMessageContaining("beyond guest RAM");
        assertThatThrownBy(() -> InProcessGuest.create(new InProcessConfig(RAM, 1, "random,size=100", 1, 0)))
                .hasMessageContaining("power of two");
        assertThatThrownBy(() -> InProcessGuest.create(new InProcessConfig(RAM, 1, "spin", 1, 0)))
                .hasMessageContaining("unknown workload 'spin'");
        assertThatThrownBy(() -> InProcessGuest.create(new InProcessConfig(RAM, 1, "idle,zeros=1", 1, 0)))
                .hasMessageContaining("unknown option zeros");
        assertThatThrownBy(() -> new InProcessConfig(new long[] {1000}, 1, "idle", 1, 0))
                .hasMessageContaining("multiple of 4 KiB");
        assertThatThrownBy(() -> new InProcessConfig(RAM, 0, "idle", 1, 0)).hasMessageContaining("vCPU count");
    }
}
