/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

import static dev.ferry.policy.Decision.ABORT;
import static dev.ferry.policy.Decision.CONTINUE_PRECOPY;
import static dev.ferry.policy.Decision.STOP_AND_COPY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.policy.PrecopyStats.Moment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PoliciesTest {
    private static PrecopyStats stats(Moment moment, int iteration, long dirty, long elapsedMs, long expectedMs) {
        return new PrecopyStats(moment, iteration, 1000, dirty, elapsedMs, 1e8, expectedMs, 123, 300);
    }

    @Test
    void xenStopsOnFewDirtyPagesOrAfterFiveIterations() {
        XenPolicy xen = new XenPolicy();
        assertThat(xen.decide(stats(Moment.BEFORE_BATCH, 0, 262144, 0, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(xen.decide(stats(Moment.BEFORE_BATCH, 2, 49, 0, -1))).isEqualTo(STOP_AND_COPY);
        assertThat(xen.decide(stats(Moment.BEFORE_BATCH, 2, 50, 0, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(xen.decide(stats(Moment.BEFORE_BATCH, 2, 0, 0, -1))).isEqualTo(STOP_AND_COPY);
        // An unknown count (after a batch) is not "few".
        assertThat(xen.decide(stats(Moment.AFTER_BATCH, 2, -1, 0, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(xen.decide(stats(Moment.AFTER_BATCH, 4, -1, 0, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(xen.decide(stats(Moment.AFTER_BATCH, 5, -1, 0, -1))).isEqualTo(STOP_AND_COPY);
        assertThat(new XenPolicy(10, 2).decide(stats(Moment.BEFORE_BATCH, 1, 20, 0, -1)))
                .isEqualTo(CONTINUE_PRECOPY);
    }

    @Test
    void downtimeStopsWhenTheEstimateFitsTheLimit() {
        DowntimePolicy p = new DowntimePolicy();
        assertThat(p.decide(stats(Moment.BEFORE_BATCH, 1, 10, 0, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(p.decide(stats(Moment.BEFORE_BATCH, 1, 10, 0, 301))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(p.decide(stats(Moment.BEFORE_BATCH, 1, 10, 0, 300))).isEqualTo(STOP_AND_COPY);
        assertThat(new DowntimePolicy(50).decide(stats(Moment.BEFORE_BATCH, 1, 10, 0, 100)))
                .isEqualTo(CONTINUE_PRECOPY);
    }

    @Test
    void timeoutActsAfterItsLimit() {
        TimeoutPolicy abort = new TimeoutPolicy(Duration.ofSeconds(10), ABORT);
        assertThat(abort.decide(stats(Moment.AFTER_BATCH, 3, -1, 9_999, -1))).isEqualTo(CONTINUE_PRECOPY);
        assertThat(abort.decide(stats(Moment.AFTER_BATCH, 3, -1, 10_000, -1))).isEqualTo(ABORT);
        TimeoutPolicy force = new TimeoutPolicy(Duration.ofSeconds(1), STOP_AND_COPY);
        assertThat(force.decide(stats(Moment.AFTER_BATCH, 3, -1, 1_500, -1))).isEqualTo(STOP_AND_COPY);
        assertThatThrownBy(() -> new TimeoutPolicy(Duration.ofSeconds(1), CONTINUE_PRECOPY))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void compositeTakesTheMostSevereAnswerAndConsultsEveryMember() {
        int[] calls = new int[2];
        PrecopyPolicy stop = s -> {
            calls[0]++;
            return STOP_AND_COPY;
        };
        PrecopyPolicy abort = s -> {
            calls[1]++;
            return ABORT;
        };
        assertThat(new CompositePolicy(List.of(stop, abort)).decide(stats(Moment.AFTER_BATCH, 1, -1, 0, -1)))
                .isEqualTo(ABORT);
        assertThat(calls).containsExactly(1, 1);
        assertThat(new CompositePolicy(List.of(s -> CONTINUE_PRECOPY, stop))
                .decide(stats(Moment.AFTER_BATCH, 1, -1, 0, -1))).isEqualTo(STOP_AND_COPY);
    }

    @Test
    void parsesNamesOptionsAndComposition() {
        assertThat(Policies.parse("xen,dirty-threshold=10,max-iterations=3").describe())
                .isEqualTo("xen(dirty-threshold=10, max-iterations=3)");
        assertThat(Policies.parse("downtime,timeout=10s,on-timeout=abort").describe())
                .isEqualTo("downtime + timeout(after=10000ms, on-timeout=abort)");
        assertThat(Policies.parse("downtime,timeout=10s,on-timeout=force").decide(stats(Moment.AFTER_BATCH, 9, -1,
                11_000, 5_000))).isEqualTo(STOP_AND_COPY);
        assertThat(Policies.parse("xen+timeout,after=2m,action=abort").describe())
                .isEqualTo("xen(dirty-threshold=50, max-iterations=5) + timeout(after=120000ms, on-timeout=abort)");
        assertThat(Policies.parse(List.of("downtime,limit=50ms", "xen")).describe())
                .isEqualTo("downtime(limit=50ms) + xen(dirty-threshold=50, max-iterations=5)");
        assertThat(Policies.parse(List.of()).describe()).isEqualTo("downtime");
    }

    @Test
    void refusesWhatItDoesNotKnowWithTheReason() {
        assertThatThrownBy(() -> Policies.parse("fastest")).hasMessageContaining("unknown policy 'fastest'");
        assertThatThrownBy(() -> Policies.parse("xen,iterations=3")).hasMessageContaining("unknown option iterations")
                .hasMessageContaining("known: dirty-threshold");
        assertThatThrownBy(() -> Policies.parse("downtime,timeout=soon")).hasMessageContaining("not a duration");
        assertThatThrownBy(() -> Policies.parse("downtime,on-timeout=abort")).hasMessageContaining("needs timeout");
        assertThatThrownBy(() -> Policies.parse("timeout,after=1s,action=maybe"))
                .hasMessageContaining("must be abort or force");
        assertThatThrownBy(() -> Policies.parse("timeout")).hasMessageContaining("needs after=DURATION");
        assertThatThrownBy(() -> Policies.parse("com.example.Missing")).hasMessageContaining("not found");
        assertThatThrownBy(() -> Policies.parse("java.lang.String")).hasMessageContaining("does not implement");
    }

    @Test
    void loadsUserPoliciesWithTheirOptions() {
        PrecopyPolicy p = Policies.parse(EveryNth.class.getName() + ",n=3");
        assertThat(p.describe()).isEqualTo("every 3rd");
        PrecopyStats s = stats(Moment.AFTER_BATCH, 1, -1, 0, -1);
        assertThat(List.of(p.decide(s), p.decide(s), p.decide(s))).containsExactly(CONTINUE_PRECOPY,
                CONTINUE_PRECOPY, STOP_AND_COPY);
    }

    /** A user policy: stop at the n-th consultation. */
    public static final class EveryNth implements PrecopyPolicy {
        private final int n;
        private int calls;

        public EveryNth(Map<String, String> options) {
            this.n = Integer.parseInt(options.getOrDefault("n", "2"));
        }

        @Override
        public Decision decide(PrecopyStats stats) {
            return ++calls % n == 0 ? STOP_AND_COPY : CONTINUE_PRECOPY;
        }

        @Override
        public String describe() {
            return "every " + n + "rd";
        }
    }
}
