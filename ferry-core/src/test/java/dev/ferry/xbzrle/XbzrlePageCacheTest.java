/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class XbzrlePageCacheTest {
    private static final int PAGE = XbzrlePageCache.PAGE;

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    /** A page whose bytes all equal {@code fill}. */
    private MemorySegment page(int fill) {
        MemorySegment p = arena.allocate(PAGE);
        p.fill((byte) fill);
        return p;
    }

    private static byte firstByte(XbzrlePageCache c, long offset) {
        return c.storage().get(ValueLayout.JAVA_BYTE, offset);
    }

    @Test
    void storesAndFindsPagesByBlockAndIndex() {
        try (XbzrlePageCache c = new XbzrlePageCache(4L * PAGE)) {
            assertThat(c.lookup(0, 7)).isEqualTo(-1);
            assertThat(c.put(0, 7, page(1), 0)).isTrue();
            assertThat(c.put(1, 7, page(2), 0)).isTrue(); // same index, another block
            long a = c.lookup(0, 7);
            long b = c.lookup(1, 7);
            assertThat(a).isNotNegative();
            assertThat(b).isNotNegative().isNotEqualTo(a);
            assertThat(firstByte(c, a)).isEqualTo((byte) 1);
            assertThat(firstByte(c, b)).isEqualTo((byte) 2);
            assertThat(c.storage().get(ValueLayout.JAVA_BYTE, a + PAGE - 1)).isEqualTo((byte) 1);
            // A put of a cached page replaces its contents in place.
            assertThat(c.put(0, 7, page(3), 0)).isTrue();
            assertThat(c.lookup(0, 7)).isEqualTo(a);
            assertThat(firstByte(c, a)).isEqualTo((byte) 3);
            assertThat(c.hits()).isEqualTo(3);
            assertThat(c.misses()).isEqualTo(1);
            assertThat(c.entries()).isEqualTo(2);
            assertThat(c.capacity()).isEqualTo(4L * PAGE);
        }
    }

    @Test
    void evictsTheLeastRecentlyUsedForAMoreFrequentPage() {
        try (XbzrlePageCache c = new XbzrlePageCache(3L * PAGE)) {
            for (int p = 1; p <= 3; p++) {
                c.lookup(0, p);
                c.put(0, p, page(p), 0);
            }
            c.lookup(0, 1); // order now, most recent first: 1, 3, 2
            // Page 9, seen once, is refused: not more frequent than the LRU page 2.
            c.lookup(0, 9);
            assertThat(c.put(0, 9, page(9), 0)).isFalse();
            assertThat(c.rejections()).isEqualTo(1);
            // Seen four times, more than two above page 2 (seen once), it replaces page 2.
            for (int k = 0; k < 3; k++) {
                c.lookup(0, 9);
            }
            assertThat(c.put(0, 9, page(9), 0)).isTrue();
            assertThat(c.evictions()).isEqualTo(1);
            assertThat(c.contains(0, 2)).isFalse();
            assertThat(c.contains(0, 1)).isTrue();
            assertThat(c.contains(0, 3)).isTrue();
            assertThat(firstByte(c, c.lookup(0, 9))).isEqualTo((byte) 9);
        }
    }

    @Test
    void removeFreesTheSlot() {
        try (XbzrlePageCache c = new XbzrlePageCache(2L * PAGE)) {
            c.put(0, 1, page(1), 0);
            c.put(0, 2, page(2), 0);
            assertThat(c.remove(0, 1)).isTrue();
            assertThat(c.remove(0, 1)).isFalse();
            assertThat(c.entries()).isEqualTo(1);
            assertThat(c.put(0, 3, page(3), 0)).isTrue(); // the freed slot, no eviction
            assertThat(c.evictions()).isZero();
            assertThat(firstByte(c, c.lookup(0, 3))).isEqualTo((byte) 3);
            assertThat(firstByte(c, c.lookup(0, 2))).isEqualTo((byte) 2);
        }
    }

    @Test
    void memoryIsOnlyTakenAsSlotsAreWritten() throws Exception {
        Path status = Path.of("/proc/self/status");
        Assumptions.assumeTrue(Files.isReadable(status), "needs /proc/self/status to read the resident set");
        long before = residentBytes(status);
        try (XbzrlePageCache c = new XbzrlePageCache(2L << 30)) {
            // A cache that zeroed its storage up front would be resident whole here (QEMU's allocates pages on insert).
            assertThat(residentBytes(status) - before).isLessThan(256L << 20);
            for (int p = 0; p < 4; p++) {
                assertThat(c.put(0, p, page(20 + p), 0)).isTrue();
            }
            for (int p = 0; p < 4; p++) {
                assertThat(firstByte(c, c.lookup(0, p))).isEqualTo((byte) (20 + p));
            }
            assertThat(c.capacity()).isEqualTo(2L << 30);
        }
    }

    @Test
    void aCacheOfNoPagesMissesEverythingAndCanGrow() {
        try (XbzrlePageCache c = new XbzrlePageCache(0)) {
            assertThat(c.slots()).isZero();
            assertThat(c.put(0, 1, page(7), 0)).isFalse();
            assertThat(c.lookup(0, 1)).isNegative();
            c.resize(2L * PAGE);
            assertThat(c.put(0, 1, page(7), 0)).isTrue();
            assertThat(firstByte(c, c.lookup(0, 1))).isEqualTo((byte) 7);
        }
    }

    @Test
    void aResizeThatRunsOutOfMemoryLeavesTheCacheAsItWas() {
        // 1 TiB of slots needs some 11 GiB of index (the page storage itself is only mapped).
        Assumptions.assumeTrue(Runtime.getRuntime().maxMemory() < (8L << 30), "needs a heap smaller than 8 GiB");
        try (XbzrlePageCache c = new XbzrlePageCache(4L * PAGE)) {
            for (int p = 0; p < 4; p++) {
                c.put(0, p, page(30 + p), 0);
            }
            assertThatThrownBy(() -> c.resize(1L << 40)).isInstanceOf(OutOfMemoryError.class);
            assertThat(c.capacity()).isEqualTo(4L * PAGE);
            assertThat(c.entries()).isEqualTo(4);
            assertThat(c.evictions()).isZero();
            for (int p = 0; p < 4; p++) {
                assertThat(firstByte(c, c.lookup(0, p))).isEqualTo((byte) (30 + p));
            }
            c.resize(8L * PAGE); // and it can still be resized
            assertThat(c.entries()).isEqualTo(4);
            assertThat(firstByte(c, c.lookup(0, 3))).isEqualTo((byte) 33);
        }
    }

    private static long residentBytes(Path status) throws Exception {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        }
        throw new IllegalStateException("no VmRSS in " + status);
    }

    @Test
    void growingKeepsEveryEntryAndItsData() {
        try (XbzrlePageCache c = new XbzrlePageCache(3L * PAGE)) {
            for (int p = 0; p < 3; p++) {
                c.put(0, p, page(10 + p), 0);
            }
            c.resize(8L * PAGE);
            assertThat(c.slots()).isEqualTo(8);
            assertThat(c.entries()).isEqualTo(3);
            for (int p = 0; p < 3; p++) {
                assertThat(firstByte(c, c.lookup(0, p))).isEqualTo((byte) (10 + p));
            }
            for (int p = 3; p < 8; p++) {
                assertThat(c.put(0, p, page(10 + p), 0)).isTrue();
            }
            assertThat(c.evictions()).isZero();
        }
    }

    @Test
    void shrinkingKeepsTheMostRecentlyUsedEntries() {
        try (XbzrlePageCache c = new XbzrlePageCache(5L * PAGE)) {
            for (int p = 0; p < 5; p++) {
                c.put(0, p, page(20 + p), 0);
            }
            c.lookup(0, 0);
            c.lookup(0, 2); // most recent first: 2, 0, 4, 3, 1
            c.resize(3L * PAGE);
            assertThat(c.slots()).isEqualTo(3);
            assertThat(c.entries()).isEqualTo(3);
            assertThat(c.evictions()).isEqualTo(2);
            assertThat(c.contains(0, 1)).isFalse();
            assertThat(c.contains(0, 3)).isFalse();
            // The order survived: 4 is the least recent, so it goes first.
            for (int k = 0; k < 4; k++) {
                c.lookup(0, 99);
            }
            assertThat(c.put(0, 99, page(99), 0)).isTrue();
            assertThat(c.contains(0, 4)).isFalse();
            for (int p : new int[] {2, 0}) {
                assertThat(firstByte(c, c.lookup(0, p))).isEqualTo((byte) (20 + p));
            }
            c.resize(0);
            assertThat(c.entries()).isZero();
            assertThat(c.lookup(0, 2)).isEqualTo(-1);
            assertThat(c.put(0, 2, page(2), 0)).isFalse();
        }
    }

    @Test
    void indexAgreesWithAMapUnderRandomPutsAndRemoves() {
        SplittableRandom r = new SplittableRandom(11);
        try (XbzrlePageCache c = new XbzrlePageCache(64L * PAGE)) {
            Map<Long, Integer> model = new HashMap<>();
            for (int t = 0; t < 20000; t++) {
                int block = r.nextInt(3);
                long p = r.nextInt(100);
                long key = XbzrlePageCache.key(block, p);
                if (r.nextInt(3) == 0) {
                    assertThat(c.remove(block, p)).isEqualTo(model.remove(key) != null);
                } else if (model.containsKey(key) || model.size() < 64) {
                    int fill = r.nextInt(256);
                    assertThat(c.put(block, p, page(fill), 0)).isTrue();
                    model.put(key, fill);
                }
                assertThat(c.entries()).isEqualTo(model.size());
            }
            for (Map.Entry<Long, Integer> e : model.entrySet()) {
                int block = (int) (e.getKey() >>> 40);
                long p = e.getKey() & XbzrlePageCache.MAX_PAGE;
                assertThat(firstByte(c, c.lookup(block, p))).isEqualTo((byte) (int) e.getValue());
            }
        }
    }

    @Test
    void rejectsKeysOutOfRange() {
        try (XbzrlePageCache c = new XbzrlePageCache(PAGE)) {
            assertThatThrownBy(() -> c.lookup(-1, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> c.lookup(0, XbzrlePageCache.MAX_PAGE + 1))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new XbzrlePageCache(-1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The QEMU model, and the comparison

    @Test
    void qemuModelIsDirectMappedWithTheTwoSyncAgeRule() {
        QemuDirectMappedCacheModel q = new QemuDirectMappedCacheModel(6L * PAGE); // pow2floor: 4 slots
        assertThat(q.slots()).isEqualTo(4);
        assertThat(q.access(1)).isFalse(); // inserted in slot 1
        assertThat(q.access(1)).isTrue();
        assertThat(q.access(5)).isFalse(); // slot 1 again: page 1 is fresh, refused
        assertThat(q.refused()).isEqualTo(1);
        q.dirtySync();
        assertThat(q.access(5)).isFalse(); // page 1 was hit one sync ago: still fresh
        q.dirtySync();
        assertThat(q.access(5)).isFalse(); // two syncs: replaced now
        assertThat(q.access(5)).isTrue();
        assertThat(q.access(1)).isFalse();
        assertThat(q.refused()).isEqualTo(3);
    }

    private static final long CAPACITY = 8L << 20; // 2048 slots

    @Test
    void missesLessThanQemuOnAHotSet() {
        CacheTraces.Trace t = CacheTraces.hotSet(21, 16384, 20, 2048, 0.10, 0.90);
        CacheTraces.Result ferry = CacheTraces.replayFerry(t, CAPACITY);
        CacheTraces.Result qemu = CacheTraces.replayQemu(t, CAPACITY);
        assertThat(ferry.accesses()).isEqualTo(qemu.accesses()).isEqualTo(t.accesses());
        assertThat(ferry.missRate()).isLessThan(qemu.missRate() * 0.6);
    }

    @Test
    void missesLessThanQemuOnUniformRandomPages() {
        CacheTraces.Trace t = CacheTraces.uniform(22, 16384, 20, 0.125);
        CacheTraces.Result ferry = CacheTraces.replayFerry(t, CAPACITY);
        CacheTraces.Result qemu = CacheTraces.replayQemu(t, CAPACITY);
        assertThat(ferry.misses()).isLessThan(qemu.misses());
    }

    @Test
    void matchesQemuOnASweepLargerThanTheCacheWhereQemuIsOptimal() {
        // 1.5 x the slots every round: after the first round, no cache can hit more than its
        // slots' worth per round. QEMU's age rule achieves that; so must the admission filter.
        int slots = (int) (CAPACITY / PAGE);
        int rounds = 20;
        CacheTraces.Trace t = CacheTraces.sweep(slots * 3 / 2, rounds);
        CacheTraces.Result ferry = CacheTraces.replayFerry(t, CAPACITY);
        CacheTraces.Result qemu = CacheTraces.replayQemu(t, CAPACITY);
        long optimal = (long) slots * 3 / 2 + (long) (rounds - 1) * (slots / 2);
        assertThat(qemu.misses()).isEqualTo(optimal);
        assertThat(ferry.misses()).isEqualTo(optimal);
    }

    @Test
    void usesAllOfACapacityThatIsNotAPowerOfTwo() {
        // 12 MiB: QEMU rounds down to 8 MiB of slots; this cache keeps 3072 pages, the whole sweep.
        long capacity = 12L << 20;
        CacheTraces.Trace t = CacheTraces.sweep(3072, 10);
        CacheTraces.Result ferry = CacheTraces.replayFerry(t, capacity);
        CacheTraces.Result qemu = CacheTraces.replayQemu(t, capacity);
        assertThat(ferry.misses()).isEqualTo(3072); // the first round only
        assertThat(qemu.misses()).isGreaterThan(3 * ferry.misses());
    }
}
