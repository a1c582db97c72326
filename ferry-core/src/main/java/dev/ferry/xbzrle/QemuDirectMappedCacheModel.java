/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

/**
 * A model of QEMU 7.2's XBZRLE page cache (migration/page_cache.c) as ram.c's save_xbzrle_page
 * uses it, for comparing replacement policies on the same traces. Pages are not stored, only
 * which page each slot holds, which is all the hit and miss counts depend on.
 *
 * <ul>
 *   <li>{@code cache_init}: the number of slots is the capacity in pages rounded down to a power
 *       of two; every slot starts empty (no data, age 0).</li>
 *   <li>{@code cache_get_cache_pos}: a page goes to slot {@code page number & (slots - 1)}: the
 *       cache is direct-mapped.</li>
 *   <li>{@code cache_is_cached}: a hit if the slot holds this page; a hit sets the slot's age to
 *       the current dirty-sync count.</li>
 *   <li>On a miss, save_xbzrle_page counts {@code cache_miss} and, outside the last stage, calls
 *       {@code cache_insert}, which refuses to replace a different page whose age plus
 *       {@code CACHED_PAGE_LIFETIME} (2) exceeds the current count (the page was inserted or hit
 *       in this sync period or the previous one); otherwise it stores the page with the current
 *       age.</li>
 *   <li>The age is ram_counters.dirty_sync_count: {@link #dirtySync} increments it.</li>
 * </ul>
 */
public final class QemuDirectMappedCacheModel {
    private static final int CACHED_PAGE_LIFETIME = 2;

    private final long[] addr; // page number held by each slot, -1 if none
    private final long[] age;
    private final int slotMask;
    private long currentAge = 1; // the first sync happens before any page is sent
    private long hits;
    private long misses;
    private long refused;

    /** A model of a cache of {@code capacityBytes} (QEMU's {@code xbzrle-cache-size}). */
    public QemuDirectMappedCacheModel(long capacityBytes) {
        long pages = capacityBytes / XbzrlePageCache.PAGE;
        if (pages < 1 || pages > (1 << 30)) {
            throw new IllegalArgumentException("capacity " + capacityBytes);
        }
        int n = Integer.highestOneBit((int) pages); // pow2floor
        addr = new long[n];
        java.util.Arrays.fill(addr, -1L);
        age = new long[n];
        slotMask = n - 1;
    }

    /**
     * One page about to be sent (its global page number, QEMU's {@code current_addr / page size}):
     * looks it up and, on a miss, tries to insert it. Returns whether it was a hit.
     */
    public boolean access(long pageNumber) {
        int pos = (int) (pageNumber & slotMask);
        if (addr[pos] == pageNumber) {
            age[pos] = currentAge;
            hits++;
            return true;
        }
        misses++;
        if (addr[pos] != -1 && age[pos] + CACHED_PAGE_LIFETIME > currentAge) {
            refused++; // the cached page is fresh: do not replace it
        } else {
            addr[pos] = pageNumber;
            age[pos] = currentAge;
        }
        return false;
    }

    /** A dirty-bitmap sync: the age advances. */
    public void dirtySync() {
        currentAge++;
    }

    public int slots() {
        return slotMask + 1;
    }

    public long hits() {
        return hits;
    }

    public long misses() {
        return misses;
    }

    /** Inserts refused because the slot's page was fresh. */
    public long refused() {
        return refused;
    }
}
