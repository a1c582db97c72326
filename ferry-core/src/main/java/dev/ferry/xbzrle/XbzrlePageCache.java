/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import dev.ferry.memory.AnonymousMemory;
import dev.ferry.memory.Pages;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * The sender's XBZRLE cache: the contents of pages as last sent, so that a page sent again can go
 * as a delta against them. Bounded by a byte capacity ({@code xbzrle-cache-size}, default
 * {@value #DEFAULT_CAPACITY} bytes), keyed by (RAM block, page index in the block).
 *
 * <h2>Use</h2>
 * For each dirty page about to be sent: {@link #lookup}; on a hit, encode the page against
 * {@code storage()} at the returned offset, then write the new contents there (the slot stays
 * valid until the next {@link #put}, {@link #remove} or {@link #resize}); on a miss, send the page
 * whole and {@link #put} it, which may refuse it (see below). Call {@link #dirtySync} after each
 * dirty-bitmap sync, if the caller wants {@link #syncs()} counted (the policy does not need it).
 *
 * <h2>Replacement policy: TinyLFU admission over LRU</h2>
 * Every {@link #lookup} counts the page in a small frequency sketch ({@link FrequencySketch},
 * aged by halving). While there are free slots, {@link #put} always stores. When full, the
 * candidate is compared with the least recently used entry: it replaces it only if the sketch has
 * seen the candidate at least twice more often (a margin against the sketch's overestimates);
 * otherwise the put is refused and counted as a rejection. So pages
 * that are dirtied again and again (the ones XBZRLE pays for) displace pages dirtied once, a sweep
 * over more pages than fit cannot flush the cache (as it would flush a plain LRU), and among
 * equally frequent pages the cache keeps what it has, which is what QEMU's direct-mapped cache
 * achieves on sweeps with its age rule. Unlike that cache, entries are not tied to one slot, so
 * hot pages do not evict each other by address, and the whole capacity is used (QEMU rounds it
 * down to a power of two).
 *
 * <h2>Memory</h2>
 * Page data lives off-heap in one anonymous mapping of {@code capacity / 4096} slots, backed by
 * memory only as slots are first written, freed by {@link #close} or replaced by {@link #resize}.
 * The index is an open-addressing table of long keys to int slots (linear probing, backward-shift
 * deletion) and the LRU order is kept in int arrays: no operation allocates in steady state. Not
 * thread-safe: the migration sender owns it.
 */
public final class XbzrlePageCache implements AutoCloseable {
    /** The default capacity, 64 MiB, as QEMU's default {@code xbzrle-cache-size}. */
    public static final long DEFAULT_CAPACITY = 64L << 20;

    /** Bytes per cached page. */
    public static final int PAGE = Pages.SIZE;

    /** Largest RAM block id: block ids take 23 bits of the key. */
    public static final int MAX_BLOCK = (1 << 23) - 1;

    /** Largest page index in a block: 40 bits (4 PiB of 4 KiB pages). */
    public static final long MAX_PAGE = (1L << 40) - 1;

    /**
     * How many more recent accesses a candidate needs than the victim: 2, so that sketch noise
     * (it can overestimate) does not churn the cache among equally popular pages.
     */
    private static final int ADMISSION_MARGIN = 1;
    private static final long EMPTY = -1L;
    private static final int NONE = -1;

    private Arena arena;
    private MemorySegment storage;
    private int slots;

    // Per slot: its key (EMPTY if free) and its place in the LRU list (head = most recent).
    private long[] slotKey;
    private int[] prev;
    private int[] next;
    private int head = NONE;
    private int tail = NONE;
    private int[] freeSlots; // stack of free slots
    private int freeCount;
    private int entries;

    // Index: key -> slot.
    private long[] keys;
    private int[] values;
    private int mask;

    private FrequencySketch sketch;

    private long hits;
    private long misses;
    private long evictions;
    private long rejections;
    private long syncs;

    /** A cache of {@link #DEFAULT_CAPACITY} bytes. */
    public XbzrlePageCache() {
        this(DEFAULT_CAPACITY);
    }

    /** A cache of {@code capacityBytes / 4096} pages (0 disables it: every lookup misses). */
    public XbzrlePageCache(long capacityBytes) {
        int n = slotsFor(capacityBytes);
        sketch = new FrequencySketch(n); // first: once allocate has mapped memory, nothing else can fail
        allocate(n);
    }

    private static int slotsFor(long capacityBytes) {
        if (capacityBytes < 0) {
            throw new IllegalArgumentException("negative capacity " + capacityBytes);
        }
        long n = capacityBytes / PAGE;
        if (n > (1 << 28)) {
            throw new IllegalArgumentException("capacity " + capacityBytes + " too large (max 1 TiB)");
        }
        return (int) n;
    }

    /**
     * Replaces the storage and index with empty ones of {@code n} slots. All or nothing: when memory runs out (or the
     * mapping fails) the cache is left as it was and the error propagates.
     */
    private void allocate(int n) {
        int tableSize = Integer.highestOneBit(Math.max(2, 2 * n) - 1) << 1; // >= 2n, load <= 1/2
        Arena newArena = Arena.ofShared();
        try {
            long[] newSlotKey = new long[n];
            int[] newPrev = new int[n];
            int[] newNext = new int[n];
            int[] newFree = new int[n];
            long[] newKeys = new long[tableSize];
            int[] newValues = new int[tableSize];
            // Mapped, not Arena.allocate: that zeroes every byte first (170-200 ms for 256 MiB here,
            // all of it setup-time); a mapping costs nothing until a slot is first written (QEMU,
            // too, allocates a page's copy only when it inserts it).
            MemorySegment newStorage = n == 0 ? newArena.allocate(0, PAGE)
                    : AnonymousMemory.mapLazily((long) n * PAGE, newArena, "XBZRLE cache");
            Arrays.fill(newSlotKey, EMPTY);
            for (int i = 0; i < n; i++) {
                newFree[i] = n - 1 - i; // pop gives slot 0 first
            }
            Arrays.fill(newKeys, EMPTY);
            slots = n;
            arena = newArena;
            storage = newStorage;
            slotKey = newSlotKey;
            prev = newPrev;
            next = newNext;
            freeSlots = newFree;
            keys = newKeys;
            values = newValues;
        } catch (OutOfMemoryError | RuntimeException e) {
            newArena.close(); // unmaps whatever was mapped
            throw e;
        }
        freeCount = n;
        entries = 0;
        head = NONE;
        tail = NONE;
        mask = tableSize - 1;
    }

    /** Packs (block, page) into the cache key; throws if either is out of range. */
    public static long key(int block, long page) {
        if (block < 0 || block > MAX_BLOCK || page < 0 || page > MAX_PAGE) {
            throw new IllegalArgumentException("block " + block + " page " + page + " out of range");
        }
        return ((long) block << 40) | page;
    }

    /**
     * Finds a page and counts a hit or a miss (and the access, for the admission policy).
     *
     * @return the byte offset of the page's slot in {@link #storage()}, or -1 if it is not cached
     */
    public long lookup(int block, long page) {
        long k = key(block, page);
        sketch.increment(k);
        int slot = find(k);
        if (slot == NONE) {
            misses++;
            return -1;
        }
        hits++;
        touch(slot);
        return (long) slot * PAGE;
    }

    /** Whether a page is cached, without counting anything or changing the order. */
    public boolean contains(int block, long page) {
        return find(key(block, page)) != NONE;
    }

    /**
     * Stores a copy of one page ({@value #PAGE} bytes of {@code src} from {@code srcOffset}),
     * replacing the page's entry if there is one. When the cache is full the least recently used
     * entry is evicted for it only if the page has been looked up at least twice more often
     * recently; otherwise nothing is stored.
     *
     * @return whether the page is now cached
     */
    public boolean put(int block, long page, MemorySegment src, long srcOffset) {
        long k = key(block, page);
        Objects.checkFromIndexSize(srcOffset, PAGE, src.byteSize());
        int slot = find(k);
        if (slot == NONE) {
            if (freeCount > 0) {
                slot = freeSlots[--freeCount];
            } else if (tail == NONE || sketch.frequency(k) <= sketch.frequency(slotKey[tail]) + ADMISSION_MARGIN) {
                rejections++;
                return false;
            } else {
                slot = tail;
                unlink(slot);
                indexRemove(slotKey[slot]);
                entries--;
                evictions++;
            }
            slotKey[slot] = k;
            indexPut(k, slot);
            linkFront(slot);
            entries++;
        } else {
            touch(slot);
        }
        MemorySegment.copy(src, srcOffset, storage, (long) slot * PAGE, PAGE);
        return true;
    }

    /** Drops a page (e.g. one that was discarded); returns whether it was cached. */
    public boolean remove(int block, long page) {
        long k = key(block, page);
        int slot = find(k);
        if (slot == NONE) {
            return false;
        }
        unlink(slot);
        indexRemove(k);
        slotKey[slot] = EMPTY;
        freeSlots[freeCount++] = slot;
        entries--;
        return true;
    }

    /** Counts a dirty-bitmap sync (informational: the policy does not depend on it). */
    public void dirtySync() {
        syncs++;
    }

    /**
     * Changes the capacity during a migration. The most recently used entries that fit are kept
     * (in their order), the rest are evicted; only the kept pages are copied, into a new segment
     * of the new size, and the old one is freed: offsets and segments from before are invalid.
     *
     * @throws OutOfMemoryError when there is not enough memory for the new cache; the cache is
     *     then unchanged
     */
    public void resize(long newCapacityBytes) {
        int n = slotsFor(newCapacityBytes);
        if (n == slots) {
            return;
        }
        Arena oldArena = arena;
        MemorySegment oldStorage = storage;
        int keep = Math.min(entries, n);
        int[] order = new int[keep]; // most recent first
        int s = head;
        for (int i = 0; i < keep; i++) {
            order[i] = s;
            s = next[s];
        }
        long[] oldKeys = slotKey;
        int dropped = entries - keep;
        FrequencySketch fresh = new FrequencySketch(n); // sized for the new capacity
        allocate(n); // throws before changing anything when memory runs out: the cache stays as it was
        evictions += dropped;
        // Rebuild in order, least recent first, so each linkFront leaves the same order.
        for (int i = keep - 1; i >= 0; i--) {
            int slot = freeSlots[--freeCount];
            long k = oldKeys[order[i]];
            MemorySegment.copy(oldStorage, (long) order[i] * PAGE, storage, (long) slot * PAGE, PAGE);
            slotKey[slot] = k;
            indexPut(k, slot);
            linkFront(slot);
            entries++;
            fresh.increment(k); // each kept page counted once
        }
        sketch = fresh;
        oldArena.close();
    }

    /** The page data: slot {@code i} is at byte offset {@code i * 4096}. Invalid after resize/close. */
    public MemorySegment storage() {
        return storage;
    }

    /** Capacity in bytes (a multiple of the page size). */
    public long capacity() {
        return (long) slots * PAGE;
    }

    /** Capacity in pages. */
    public int slots() {
        return slots;
    }

    /** Pages cached. */
    public int entries() {
        return entries;
    }

    public long hits() {
        return hits;
    }

    public long misses() {
        return misses;
    }

    /** Entries displaced by a put or dropped by a shrinking resize. */
    public long evictions() {
        return evictions;
    }

    /** Puts refused by the admission policy. */
    public long rejections() {
        return rejections;
    }

    public long syncs() {
        return syncs;
    }

    /** Frees the page memory (idempotent); the cache must not be used afterwards. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // LRU list

    private void touch(int slot) {
        if (slot != head) {
            unlink(slot);
            linkFront(slot);
        }
    }

    private void unlink(int slot) {
        int p = prev[slot];
        int n = next[slot];
        if (p == NONE) {
            head = n;
        } else {
            next[p] = n;
        }
        if (n == NONE) {
            tail = p;
        } else {
            prev[n] = p;
        }
    }

    private void linkFront(int slot) {
        prev[slot] = NONE;
        next[slot] = head;
        if (head != NONE) {
            prev[head] = slot;
        }
        head = slot;
        if (tail == NONE) {
            tail = slot;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Index: open addressing, linear probing

    private static int hash(long k) {
        long h = k * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    private int find(long k) {
        int i = hash(k) & mask;
        for (;;) {
            long cur = keys[i];
            if (cur == k) {
                return values[i];
            }
            if (cur == EMPTY) {
                return NONE;
            }
            i = (i + 1) & mask;
        }
    }

    private void indexPut(long k, int slot) {
        int i = hash(k) & mask;
        while (keys[i] != EMPTY) {
            i = (i + 1) & mask;
        }
        keys[i] = k;
        values[i] = slot;
    }

    /** Removes k (present) and shifts back the entries after it that probed past it. */
    private void indexRemove(long k) {
        int i = hash(k) & mask;
        while (keys[i] != k) {
            i = (i + 1) & mask;
        }
        int hole = i;
        for (int j = (hole + 1) & mask; keys[j] != EMPTY; j = (j + 1) & mask) {
            int home = hash(keys[j]) & mask;
            // Move j into the hole if its home is not in (hole, j] (cyclically).
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = EMPTY;
    }
}
