/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import dev.ferry.guest.Guest;
import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.PageDigest;
import dev.ferry.memory.Pages;
import dev.ferry.policy.Decision;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.policy.PrecopyStats;
import dev.ferry.stats.IterationStats;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.stream.PageBatch;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import dev.ferry.util.Units;
import dev.ferry.xbzrle.XbzrleCodec;
import dev.ferry.xbzrle.XbzrlePageCache;
import java.lang.foreign.Arena;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32C;

/**
 * The precopy loop: the source side of a live migration, a live save, or a replication's first checkpoint.
 *
 * <pre>
 *   setup ──> bulk round (every page; zero pages as zero records)
 *         ──> rounds of dirty pages ──(policy: stop-and-copy)──> stop-and-copy ──> completed
 *                     │                                           pause, final sync, remaining pages,
 *                     │                                           execution state, verified completion, handover
 *                     └──(policy: abort)──> cancelled (the guest never stopped)
 *   any failure before the handover ──> failed, and a paused guest is resumed
 * </pre>
 *
 * The {@link PrecopyPolicy} is consulted before and after every batch (at most {@link StreamFormat#MAX_RECORDS}
 * pages of one block) with a value snapshot of the statistics. Until the sink confirms the handover the source
 * guest is the live one: whatever fails, it keeps running.
 */
public final class PrecopyLoop {
    /**
     * How a migration ended. {@code handoverUnconfirmed}: it completed, but the destination did not confirm the
     * handover, so the source guest is kept paused (see {@link HandoverUnconfirmedException}).
     */
    public record Outcome(Status status, String message, boolean handoverUnconfirmed) {
        public Outcome(Status status, String message) {
            this(status, message, false);
        }

        public boolean completed() {
            return status == Status.COMPLETED;
        }
    }

    /**
     * What happens once the target has verified the final copy, the guest still paused. A migration or a save hands
     * the guest over (the source stays stopped); replication's first checkpoint resumes the source guest instead.
     */
    @FunctionalInterface
    public interface Switchover {
        /** The target takes over; the source guest stays stopped. */
        Switchover HANDOVER = (guest, sink) -> {
            sink.handover();
            return false;
        };

        /** Completes the switchover; returns true if the source guest is to resume and keep running. */
        boolean complete(Guest guest, PageSink sink) throws IOException;
    }

    /**
     * Holds the migration with the guest paused, before the final copy, until someone lets it continue (QEMU's
     * pause-before-switchover capability and migrate-continue). Returning false cancels the migration: the guest
     * resumes.
     */
    @FunctionalInterface
    public interface PreSwitchover {
        boolean proceed() throws InterruptedException;
    }

    /** Observes a migration as it goes (progress displays, control-socket events). */
    public interface Listener {
        default void onIteration(IterationStats iteration) {
        }

        default void onStatus(Status status) {
        }
    }

    /** Pages dirtied since the last sync are counted (peeked) at most this often. */
    private static final long PEEK_INTERVAL_NANOS = 20_000_000L;
    /** A round with nothing to send waits this long before the next sync, so an always-continue policy idles. */
    private static final long EMPTY_ROUND_PAUSE_NANOS = 5_000_000L;
    /** Below this many pages a round's bytes per page are too noisy; the previous round's figure is used. */
    private static final long MIN_PAGES_FOR_RATIO = 1024;

    private final Guest guest;
    private final PageSink sink;
    private final PrecopyPolicy policy;
    private final MigrationParameters params;
    private final MigrationStats stats;
    private final Listener listener;
    private final int capabilities;
    private final Duration completionTimeout;
    private final List<RamBlock> blocks;
    private final Bitmap[] round;
    private final PageDigest digest;
    private final CRC32C crc = new CRC32C();
    // XBZRLE (when negotiated): the cache of pages as the destination has them, the codec, and scratch pages.
    private XbzrlePageCache cache;
    /** Sampled fraction of the pages left that the cache holds, and the measured cost of a delta. */
    private double cachedFraction;
    private long deltaPages;
    private long deltaBytes;
    private final XbzrleCodec codec = new XbzrleCodec();
    private final MemorySegment scratch = Arena.ofAuto().allocate(Pages.SIZE, Pages.SIZE);
    private final MemorySegment delta = Arena.ofAuto().allocate(Pages.SIZE, Pages.SIZE);
    private final java.nio.ByteBuffer scratchBuffer = scratch.asByteBuffer();
    /** A batch taken from the sink that ended up empty (every page unchanged), kept for the next one. */
    private PageBatch spare;
    private final RateLimiter limiter;
    private final BandwidthMeter meter = new BandwidthMeter();
    private final long totalPages;
    private final long startNanos = System.nanoTime();

    private Switchover switchover = Switchover.HANDOVER;
    /** Called with the guest paused, before the final copy (the pause-before-switchover capability). */
    private PreSwitchover preSwitchover;
    private boolean keepsRunning;
    private volatile String abortRequest;
    private volatile boolean switchoverRequest;

    private int scanBlock;
    private long scanPage;
    private long unsent;
    private int iteration;
    private long totalWritten;
    private long roundDirty;
    private long roundStartNanos;
    private long roundPages;
    private long roundZero;
    private long roundBytes;
    private long lastSyncNanos;
    private long lastRoundPages;
    private long lastRoundBytes;
    private long peekedDirty;
    private long lastPeekNanos;
    private boolean peekUnsupported;
    private long dirtyRate;
    private Decision lastDecision = Decision.CONTINUE_PRECOPY;
    // Auto-converge: the current throttle and the period it is judged over (QEMU's migration_trigger_throttle).
    private int throttle;
    private int dirtyRateHighCount;
    private long periodStartNanos;
    private long periodStartTransferred;
    private long periodDirtyPages;
    private boolean paused;

    public PrecopyLoop(Guest guest, PageSink sink, PrecopyPolicy policy, MigrationParameters params,
            MigrationStats stats, Listener listener, int capabilities, Duration completionTimeout) {
        this.guest = guest;
        this.sink = sink;
        this.policy = policy;
        this.params = params;
        this.stats = stats;
        this.listener = listener == null ? new Listener() { } : listener;
        this.capabilities = capabilities;
        this.completionTimeout = completionTimeout;
        this.blocks = guest.ramBlocks();
        this.round = new Bitmap[blocks.size()];
        long[] pages = new long[blocks.size()];
        long total = 0;
        for (int i = 0; i < round.length; i++) {
            pages[i] = blocks.get(i).pages();
            round[i] = new Bitmap(pages[i]);
            total += pages[i];
        }
        this.totalPages = total;
        this.digest = new PageDigest(pages);
        this.limiter = new RateLimiter(params::maxBandwidth);
    }

    /** Sets a gate that holds the switchover, the guest paused, until it proceeds. */
    public PrecopyLoop preSwitchover(PreSwitchover gate) {
        this.preSwitchover = gate;
        return this;
    }

    /** Sets what happens after the verified completion (default: {@link Switchover#HANDOVER}). */
    public PrecopyLoop switchover(Switchover s) {
        this.switchover = s;
        return this;
    }

    /** Asks the loop to abort at the next batch (the guest keeps running). */
    public void requestAbort(String reason) {
        abortRequest = reason;
        // Before the handover, even a migration waiting for the destination's verification can still abort.
        sink.cancelCompletion(reason);
    }

    /** Asks the loop to switch to stop-and-copy at the next batch, whatever the policy says. */
    public void requestSwitchover() {
        switchoverRequest = true;
    }

    /** Runs the migration to its end. Never throws: the outcome says how it ended. */
    public Outcome run() {
        stats.policy(policy.describe());
        try {
            List<Records.BlockInfo> infos = new ArrayList<>();
            for (RamBlock b : blocks) {
                infos.add(new Records.BlockInfo(b.id(), b.guestAddress(), b.length(), Pages.SIZE));
            }
            int accepted = sink.open(new Records.Setup(guest.descriptor(), infos), capabilities);
            if ((accepted & StreamFormat.CAP_XBZRLE) != 0) {
                try {
                    cache = new XbzrlePageCache(cacheCapacity());
                } catch (OutOfMemoryError e) {
                    throw cacheMemory("for an XBZRLE cache of", e);
                }
                stats.xbzrleCache(configuredCacheSize(), 0, 0);
            }
            guest.dirtyLog().start();
            for (Bitmap b : round) {
                b.setAll();
            }
            unsent = totalPages;
            roundDirty = totalPages;
            roundStartNanos = lastSyncNanos = System.nanoTime();
            setStatus(Status.ACTIVE);
            Decision d;
            while (true) {
                d = consult(PrecopyStats.Moment.BEFORE_BATCH);
                if (d != Decision.CONTINUE_PRECOPY) {
                    break;
                }
                sendBatch(false);
                d = consult(PrecopyStats.Moment.AFTER_BATCH);
                if (d != Decision.CONTINUE_PRECOPY) {
                    break;
                }
                if (unsent == 0) {
                    endRound(iteration == 0 ? "bulk" : "precopy");
                    sync();
                    if (unsent == 0) {
                        long idleStart = System.nanoTime();
                        LockSupport.parkNanos(EMPTY_ROUND_PAUSE_NANOS);
                        meter.idle(System.nanoTime() - idleStart);
                    }
                }
            }
            if (d == Decision.ABORT) {
                String reason = abortRequest != null ? abortRequest
                        : "precopy policy " + policy.describe() + " decided to abort";
                return abort(reason);
            }
            return stopAndCopy();
        } catch (IOException | RuntimeException e) {
            return fail(e);
        } finally {
            if (!keepsRunning) {
                guest.dirtyLog().stop();
            }
            // A guest that goes on running here (abort, failure, replication) runs at full speed again.
            unthrottle();
            digest.close();
            if (cache != null) {
                cache.close();
            }
        }
    }

    private Decision consult(PrecopyStats.Moment moment) {
        long now = System.nanoTime();
        long remainingBytes = estimateRemainingBytes(now, false);
        double bw = meter.bytesPerSecond();
        long cap = params.maxBandwidth();
        if (cap > 0 && (bw < 0 || bw > cap)) {
            // The cap holds over time; a faster measurement is a burst the limiter will pay back.
            bw = cap;
        }
        long expected = remainingBytes == 0 ? 0 : bw > 0 ? (long) Math.ceil(remainingBytes / bw * 1000) : -1;
        if (expected >= 0 && expected <= 2 * params.downtimeLimitMillis() && now - lastPeekNanos > 1_000_000) {
            // Near the limit a peek up to 20 ms old is not good enough (a guest can dirty everything again in less):
            // look again before anyone decides on it, as QEMU syncs again before completing.
            remainingBytes = estimateRemainingBytes(now, true);
            expected = remainingBytes == 0 ? 0 : bw > 0 ? (long) Math.ceil(remainingBytes / bw * 1000) : -1;
        }
        stats.estimate(remainingBytes, expected, bw);
        PrecopyStats s = new PrecopyStats(moment, iteration, totalWritten,
                moment == PrecopyStats.Moment.BEFORE_BATCH ? roundDirty : -1, (now - startNanos) / 1_000_000, bw,
                expected, remainingBytes, params.downtimeLimitMillis());
        Decision d;
        if (abortRequest != null) {
            d = Decision.ABORT;
        } else {
            d = policy.decide(s);
            if (d == null) {
                throw new IllegalStateException("precopy policy " + policy.describe() + " returned no decision");
            }
            if (switchoverRequest && d == Decision.CONTINUE_PRECOPY) {
                d = Decision.STOP_AND_COPY;
            }
        }
        lastDecision = d;
        return d;
    }

    /**
     * What stopping now would cost on the wire: the pages not yet sent this round, plus those written since the
     * last sync (peeked from the dirty log, or estimated from the dirty rate), at the recent bytes per page.
     */
    private long estimateRemainingBytes(long now, boolean fresh) {
        if (fresh || now - lastPeekNanos > PEEK_INTERVAL_NANOS) {
            lastPeekNanos = now;
            long dirty = 0;
            if (!peekUnsupported) {
                for (int b = 0; b < round.length; b++) {
                    long n = guest.dirtyLog().peek(b, round[b]);
                    if (n < 0) {
                        peekUnsupported = true;
                        break;
                    }
                    dirty += n;
                }
            }
            if (peekUnsupported) {
                dirty = (long) (dirtyRate * ((now - lastSyncNanos) * 1e-9));
            }
            peekedDirty = dirty;
            sampleCachedFraction();
        }
        long pages = Math.min(totalPages, unsent + peekedDirty);
        return (long) Math.ceil(pages * wireBytesPerPage());
    }

    /**
     * What a page still to send is expected to cost on the wire: measured on the re-sent pages of recent rounds
     * (so that zero pages and, with XBZRLE, encoded pages count at what they really cost), and a whole page where
     * nothing was measured yet. The first round's figure is not used: which of its pages are zero says nothing about
     * the pages left.
     */
    private double wireBytesPerPage() {
        double normal = Pages.SIZE + StreamFormat.RECORD_HEADER;
        if (cache != null && iteration > 0) {
            // With XBZRLE the cost depends on which pages are cached: a hit costs a delta, a miss a whole page. The
            // fraction of the pages left that are cached is sampled (see sampleCachedFraction), the delta size
            // measured on this migration's deltas.
            double delta = deltaPages > 0 ? (double) deltaBytes / deltaPages : normal;
            return cachedFraction * delta + (1 - cachedFraction) * normal;
        }
        boolean current = iteration > 0 && roundPages >= MIN_PAGES_FOR_RATIO;
        double now = current ? (double) roundBytes / roundPages : 0;
        double last = lastRoundPages > 0 ? (double) lastRoundBytes / lastRoundPages : 0;
        if (current || lastRoundPages > 0) {
            // The larger of this round's and the last round's: a run of cheap pages (zero pages come in bursts)
            // must not make the rest of a round look cheap.
            return Math.max(now, last);
        }
        return normal;
    }

    /** Pages the cached fraction is sampled from. */
    private static final int CACHE_SAMPLES = 256;

    /**
     * Samples which of the pages still to send this round the XBZRLE cache holds: every k-th page of the round's
     * bitmaps, at most {@link #CACHE_SAMPLES} lookups that do not count as hits or misses.
     */
    private void sampleCachedFraction() {
        if (cache == null || unsent == 0) {
            return;
        }
        long step = Math.max(1, unsent / CACHE_SAMPLES);
        long seen = 0;
        long sampled = 0;
        long cached = 0;
        for (int b = 0; b < round.length; b++) {
            for (long p = round[b].nextSetBit(0); p >= 0; p = round[b].nextSetBit(p + 1)) {
                if (seen++ % step == 0) {
                    sampled++;
                    if (cache.contains(b, p)) {
                        cached++;
                    }
                }
            }
        }
        if (sampled > 0) {
            cachedFraction = (double) cached / sampled;
        }
    }

    /** The XBZRLE cache this migration allocates: {@link MigrationParameters#xbzrleCacheCapacity}. */
    private long cacheCapacity() {
        return MigrationParameters.xbzrleCacheCapacity(params.xbzrleCacheSize(), totalPages * Pages.SIZE);
    }

    /** {@code xbzrle-cache-size} in whole pages: the cache-size statistic, as QEMU reports the parameter. */
    private long configuredCacheSize() {
        return MigrationParameters.xbzrleCacheWholePages(params.xbzrleCacheSize());
    }

    /** The one-line failure for a cache that does not fit in memory; the migration fails, the guest runs on here. */
    private IOException cacheMemory(String what, OutOfMemoryError e) {
        return new IOException("not enough memory " + what + " " + Units.bytes(cacheCapacity()) + " (" + e.getMessage()
                + ")");
    }

    /** Sends up to one batch of the current round's pages, from one block. */
    private void sendBatch(boolean duringDowntime) throws IOException {
        if (cache != null && cache.capacity() != cacheCapacity()) {
            // xbzrle-cache-size changed during the migration: resize, keeping the entries that still fit.
            try {
                cache.resize(cacheCapacity());
            } catch (OutOfMemoryError e) {
                throw cacheMemory("to resize the XBZRLE cache to", e);
            }
            stats.xbzrleCache(configuredCacheSize(), cache.entries(), cache.rejections());
        }
        PageBatch batch = null;
        long zero = 0;
        while (scanBlock < round.length) {
            long p = round[scanBlock].nextSetBit(scanPage);
            if (p < 0) {
                if (batch != null) {
                    break;
                }
                scanBlock++;
                scanPage = 0;
                continue;
            }
            if (batch == null) {
                batch = spare != null ? spare : sink.takeBatch();
                spare = null;
                batch.begin(scanBlock);
            }
            round[scanBlock].clear(p);
            unsent--;
            scanPage = p + 1;
            if (encodePage(batch, scanBlock, p) == ZERO) {
                zero++;
            }
            if (batch.isFull()) {
                break;
            }
        }
        if (batch == null) {
            return;
        }
        if (batch.isEmpty()) {
            spare = batch; // every page in it was unchanged: nothing to send
            return;
        }
        int count = batch.count();
        int normal = batch.normalPages();
        long bytes = sink.submit(batch);
        limiter.acquire(bytes);
        meter.record(bytes);
        totalWritten += count;
        roundPages += count;
        roundZero += zero;
        roundBytes += bytes;
        stats.batch(zero, normal, (long) normal * Pages.SIZE, bytes, duringDowntime);
    }

    private static final int ZERO = 0;
    private static final int NORMAL = 1;
    private static final int DELTA = 2;
    private static final int UNCHANGED = 3;

    /**
     * Encodes one page into the batch: a zero record (zero pages win over everything), an XBZRLE delta against the
     * cached copy (pages re-sent after the first round, when negotiated), nothing at all (a dirty page whose
     * content did not change), or the whole page. Returns which.
     */
    private int encodePage(PageBatch batch, int block, long page) {
        MemorySegment memory = blocks.get(block).memory();
        long offset = page << Pages.SHIFT;
        if (Pages.isZero(memory, offset)) {
            batch.addZero(page);
            digest.set(block, page, Pages.ZERO_PAGE_CRC);
            if (cache != null) {
                cache.remove(block, page); // the destination's copy is zeros now
            }
            return ZERO;
        }
        if (cache == null) {
            // The copy is what is sent and hashed: a guest write racing with it only makes the page dirty again.
            return addWhole(batch, block, page, memory, offset);
        }
        // Copy first, then encode the copy (seed 001, v8): a guest write during encoding must not make the cache
        // and the destination disagree.
        MemorySegment.copy(memory, offset, scratch, 0, Pages.SIZE);
        long slot = iteration > 0 ? cache.lookup(block, page) : -1;
        if (slot >= 0) {
            int len = codec.encode(cache.storage(), slot, scratch, 0, Pages.SIZE, delta, 0, Pages.SIZE);
            if (len == 0) {
                stats.xbzrlePage("unchanged", 0);
                return UNCHANGED;
            }
            MemorySegment.copy(scratch, 0, cache.storage(), slot, Pages.SIZE);
            if (len > 0) {
                int at = batch.addXbzrle(page, len);
                MemorySegment.copy(delta, 0, batch.segment(), at, len);
                digest.set(block, page, pageCrc());
                stats.xbzrlePage("xbzrle", StreamFormat.RECORD_HEADER + 2L + len);
                deltaPages++;
                deltaBytes += StreamFormat.RECORD_HEADER + 2L + len;
                return DELTA;
            }
            stats.xbzrlePage("overflow", 0);
        } else if (iteration > 0) {
            stats.xbzrlePage("miss", 0);
            cache.put(block, page, scratch, 0);
        } else if (cache.entries() < cache.slots()) {
            // First round: fill the free slots, so that pages re-sent in the second round already have a copy.
            cache.put(block, page, scratch, 0);
        }
        return addWhole(batch, block, page, scratch, 0);
    }

    /** Adds the page at {@code from[offset]} whole: copied into the batch, hashed there once for digest and frame. */
    private int addWhole(PageBatch batch, int block, long page, MemorySegment from, long offset) {
        int at = batch.addNormal(page);
        MemorySegment.copy(from, offset, batch.segment(), at, Pages.SIZE);
        int pageCrc = Pages.crc(crc, batch.buffer(), at);
        batch.pageCrc(pageCrc);
        digest.set(block, page, pageCrc);
        return NORMAL;
    }

    private int pageCrc() {
        crc.reset();
        crc.update(scratchBuffer.clear());
        return (int) crc.getValue();
    }

    private void endRound(String phase) throws IOException {
        // Recorded before the marker is sent, so that a round cut short by a failure still shows in the statistics.
        IterationStats it = new IterationStats(iteration + 1, phase, roundDirty, roundPages, roundZero, roundBytes,
                (System.nanoTime() - roundStartNanos) / 1e6, lastDecision.label());
        stats.iteration(it);
        listener.onIteration(it);
        if (roundPages > 0 && !"bulk".equals(phase)) {
            lastRoundPages = roundPages;
            lastRoundBytes = roundBytes;
        }
        iteration++;
        if (cache != null) {
            stats.xbzrleCache(configuredCacheSize(), cache.entries(), cache.rejections());
            stats.xbzrleRoundEnd(roundPages);
        }
        stats.controlBytes(sink.endOfRound(iteration, it.pagesSent()), "stop-and-copy".equals(phase));
    }

    /** Moves the pages written since the last sync into the round maps; starts a new round. */
    private void sync() {
        long now = System.nanoTime();
        long found = 0;
        for (int b = 0; b < round.length; b++) {
            guest.dirtyLog().sync(b, round[b]);
        }
        for (Bitmap b : round) {
            found += b.cardinality();
        }
        double seconds = Math.max(1e-6, (now - lastSyncNanos) * 1e-9);
        dirtyRate = (long) (found / seconds);
        stats.dirtySync(dirtyRate);
        autoConverge(now, found);
        lastSyncNanos = now;
        unsent = found;
        roundDirty = found;
        roundStartNanos = now;
        roundPages = 0;
        roundZero = 0;
        roundBytes = 0;
        scanBlock = 0;
        scanPage = 0;
        peekedDirty = 0;
        lastPeekNanos = now;
    }

    /**
     * At most once a second, as QEMU does: if the guest dirtied more than {@code throttle-trigger-threshold} percent of
     * what was sent in the period, twice in a row, throttle its vCPUs (more each time, up to the maximum).
     */
    private void autoConverge(long now, long dirtiedPages) {
        if (!params.autoConverge() || iteration == 0) {
            return;
        }
        if (periodStartNanos == 0) {
            periodStartNanos = now;
            periodStartTransferred = stats.transferred();
            return;
        }
        periodDirtyPages += dirtiedPages;
        if (now - periodStartNanos < 1_000_000_000L) {
            return;
        }
        long sent = stats.transferred() - periodStartTransferred;
        long dirtied = periodDirtyPages * Pages.SIZE;
        if (dirtied > sent * params.throttleTriggerThreshold() / 100 && ++dirtyRateHighCount >= 2) {
            dirtyRateHighCount = 0;
            int next = throttle == 0 ? params.cpuThrottleInitial()
                    : Math.min(params.maxCpuThrottle(), throttle + params.cpuThrottleIncrement());
            if (guest.throttle(next)) {
                throttle = next;
                stats.throttle(throttle);
            }
        }
        periodStartNanos = now;
        periodStartTransferred = stats.transferred();
        periodDirtyPages = 0;
    }

    private void unthrottle() {
        if (throttle > 0) {
            guest.throttle(0);
            throttle = 0;
        }
    }

    private Outcome stopAndCopy() throws IOException {
        long pauseStart = System.nanoTime();
        String unconfirmed = null; // why the handover was not confirmed, if it was not
        setStatus(Status.DEVICE);
        guest.pause();
        paused = true;
        try {
            if (preSwitchover != null) {
                setStatus(Status.PRE_SWITCHOVER);
                boolean go;
                try {
                    go = preSwitchover.proceed() && abortRequest == null;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    go = false;
                }
                if (!go) {
                    guest.resume();
                    paused = false;
                    return abort(abortRequest != null ? abortRequest : "cancelled before the switchover");
                }
                // The guest was paused while it waited: that counts in the downtime, as it does in QEMU.
                setStatus(Status.DEVICE);
            }
            if (roundPages > 0) {
                endRound(iteration == 0 ? "bulk" : "precopy");
            }
            // Final sync: what the guest wrote since the last sync joins what this round had left to send.
            sync();
            roundDirty = unsent;
            while (unsent > 0) {
                sendBatch(true);
            }
            byte[] state = guest.saveState();
            stats.controlBytes(sink.executionState(state), true);
            lastDecision = Decision.STOP_AND_COPY;
            endRound("stop-and-copy");
            sink.complete(totalWritten, digest.digest(), completionTimeout);
            keepsRunning = switchover.complete(guest, sink);
        } catch (CompletionCancelledException e) {
            // Cancelled while the destination verified: nothing was handed over, the guest resumes here.
            guest.resume();
            paused = false;
            roundPages = 0; // the stop-and-copy round is ended and counted already
            return abort(e.reason());
        } catch (HandoverUnconfirmedException e) {
            // The destination holds a verified copy and was told to start it; whether it heard is unknown. Resuming
            // here could run the guest twice, and it may be the only copy: it stays paused.
            unconfirmed = e.getMessage();
            keepsRunning = false;
            stats.handoverUnconfirmed(unconfirmed);
        } catch (IOException | RuntimeException e) {
            return fail(e);
        }
        if (keepsRunning) {
            guest.resume();
            paused = false;
        }
        stats.downtime(System.nanoTime() - pauseStart);
        stats.estimate(0, 0, meter.bytesPerSecond());
        setStatus(Status.COMPLETED);
        return unconfirmed != null ? new Outcome(Status.COMPLETED, unconfirmed, true)
                : new Outcome(Status.COMPLETED, "migration completed");
    }

    private Outcome abort(String reason) {
        if (roundPages > 0) {
            try {
                endRound(iteration == 0 ? "bulk" : "precopy");
            } catch (IOException e) {
                // the abort goes on: the round's statistics are recorded all the same
            }
        }
        sink.abort(reason);
        stats.error(reason);
        setStatus(Status.CANCELLED);
        return new Outcome(Status.CANCELLED, reason);
    }

    private Outcome fail(Exception e) {
        String message = e.getMessage() != null ? e.getMessage() : e.toString();
        if (e instanceof RuntimeException) {
            message = "internal error: " + e;
        }
        if (paused) {
            guest.resume();
            paused = false;
        }
        sink.abort(message);
        stats.error(message);
        setStatus(Status.FAILED);
        return new Outcome(Status.FAILED, message);
    }

    private void setStatus(Status s) {
        stats.status(s);
        listener.onStatus(s);
    }
}
