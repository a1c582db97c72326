/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The guest runs only while no holder holds it paused, whatever order the holders pause and resume in. */
class PauseHoldsTest {
    private static InProcessGuest running() {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {4L << 20}, 1, "memtest,end=2M", 1, 0));
        g.resume();
        return g;
    }

    @Test
    void theGuestResumesOnlyWhenTheLastHoldIsReleased() {
        try (InProcessGuest g = running()) {
            PauseHolds holds = new PauseHolds(g);
            Guest user = holds.holder("user");
            Guest migration = holds.holder("migration");
            user.pause();
            assertThat(g.isPaused()).isTrue();
            migration.pause();
            migration.resume(); // a migration that gives up: the user's stop stays
            assertThat(g.isPaused()).isTrue();
            assertThat(holds.holders()).isEqualTo(Set.of("user"));
            migration.pause();
            assertThat(holds.releaseUnlessHeldBy("user", "migration")).isFalse(); // cont refused: nothing changes
            assertThat(holds.holders()).containsExactlyInAnyOrder("user", "migration");
            user.resume(); // a release during the switchover: the guest stays paused
            assertThat(g.isPaused()).isTrue();
            assertThat(holds.heldBy("migration")).isTrue();
            assertThat(holds.heldBy("user")).isFalse();
            migration.resume();
            assertThat(g.isPaused()).isFalse();
            assertThat(holds.holders()).isEmpty();
        }
    }

    @Test
    void aResumeWithoutAPauseAndAPauseTwiceAreOneHold() {
        try (InProcessGuest g = running()) {
            PauseHolds holds = new PauseHolds(g);
            Guest user = holds.holder("user");
            Guest checkpoint = holds.holder("replication");
            checkpoint.pause();
            user.resume(); // holds nothing: releases nothing
            assertThat(g.isPaused()).isTrue();
            checkpoint.pause();
            checkpoint.resume(); // one resume ends the holder's hold, however often it paused
            assertThat(g.isPaused()).isFalse();
        }
    }

    @Test
    void releaseAllResumesWhateverHoldsIt() {
        try (InProcessGuest g = running()) {
            PauseHolds holds = new PauseHolds(g);
            holds.holder("migration").pause();
            holds.holder("user").pause();
            holds.releaseAll();
            assertThat(g.isPaused()).isFalse();
            assertThat(holds.holders()).isEmpty();
        }
    }

    @Test
    void aViewIsTheGuestInAllButPauseAndResume() throws GuestException {
        try (InProcessGuest g = running()) {
            Guest v = new PauseHolds(g).holder("dump-ram");
            v.pause();
            assertThat(v.isPaused()).isTrue();
            assertThat(v.ramBlocks()).isSameAs(g.ramBlocks());
            assertThat(v.dirtyLog()).isSameAs(g.dirtyLog());
            assertThat(v.descriptor()).isEqualTo(g.descriptor());
            assertThat(v.ramSize()).isEqualTo(g.ramSize());
            assertThat(v.ramPages()).isEqualTo(g.ramPages());
            assertThat(v.saveState()).isEqualTo(g.saveState());
            assertThat(v.check().passed()).isTrue();
            Map<String, Object> counters = v.counters();
            assertThat(counters).isEqualTo(g.counters());
            assertThat(v.output()).isEqualTo(g.output());
            assertThat(v.throttle(50)).isTrue();
        }
    }
}
