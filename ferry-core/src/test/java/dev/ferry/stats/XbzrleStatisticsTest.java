/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The xbzrle-cache figures count as QEMU 7.2's do (migration/ram.c, save_xbzrle_page and the rates' period). */
class XbzrleStatisticsTest {
    @SuppressWarnings("unchecked")
    private static Map<String, Object> xbzrle(MigrationStats s) {
        return (Map<String, Object>) s.toMap().get("xbzrle-cache");
    }

    @Test
    void pagesAreEveryCacheHitAndBytesCountAPagePerOverflow() {
        MigrationStats s = new MigrationStats(1L << 30, 4096);
        s.xbzrleCache(64L << 20, 0, 0);
        s.xbzrleRoundEnd(1000); // the bulk round: nothing looked up, rates stay 0
        s.xbzrlePage("xbzrle", 100);
        s.xbzrlePage("xbzrle", 156);
        s.xbzrlePage("unchanged", 0);
        s.xbzrlePage("overflow", 0);
        s.xbzrlePage("miss", 0);
        s.xbzrleRoundEnd(8); // 2 deltas, the overflow's page, the miss's page and 4 zero pages were sent
        Map<String, Object> x = xbzrle(s);
        assertThat(x).containsEntry("pages", 4L).containsEntry("deltas", 2L).containsEntry("unchanged", 1L)
                .containsEntry("overflow", 1L).containsEntry("cache-miss", 1L)
                .containsEntry("bytes", 100L + 156 + 4096)
                .containsEntry("cache-miss-rate", 0.125) // 1 miss over the 8 pages the round sent
                .containsEntry("encoding-rate", Math.round(4 * 4096 * 100.0 / (100 + 156 + 4096)) / 100.0);
    }

    @Test
    void theRatesArePerRound() {
        MigrationStats s = new MigrationStats(1L << 30, 4096);
        s.xbzrlePage("xbzrle", 64);
        s.xbzrlePage("miss", 0);
        s.xbzrleRoundEnd(2);
        s.xbzrlePage("unchanged", 0);
        s.xbzrlePage("xbzrle", 4096 / 2);
        s.xbzrleRoundEnd(4);
        Map<String, Object> x = xbzrle(s);
        assertThat(x).containsEntry("cache-miss-rate", 0.0).containsEntry("encoding-rate", 4.0)
                .containsEntry("pages", 3L).containsEntry("bytes", 64L + 2048);
    }
}
