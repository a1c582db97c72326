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
    /** How a migration ended. */
    public record Outcome(Status status, String message) {
        public boolean completed() {
            return status == Status.COMPLETED;
        }
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
    private final RateLimiter limiter;
    private final BandwidthMeter meter = new BandwidthMeter();
    private final long totalPages;
    private final long startNanos = System.nanoTime();

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

    /** Asks the loop to abort at the next batch (the guest keeps running). */
    public void requestAbort(String reason) {
        abortRequest = reason;
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
            sink.open(new Records.Setup(guest.descriptor(), infos), capabilities);
            guest.dirtyLog().start();
            for (Bitmap b : round) {
                b.setAll();
            }
            unsent = totalPages;
            roundDirty = totalPages;
            roundStartNanos = lastSyncNanos = System.nanoTime();
            setStatus(Status.ACTIVE);
            meter.restart();
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
                        LockSupport.parkNanos(EMPTY_ROUND_PAUSE_NANOS);
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
            guest.dirtyLog().stop();
            digest.close();
        }
    }

    private Decision consult(PrecopyStats.Moment moment) {
        long now = System.nanoTime();
        long remainingBytes = estimateRemainingBytes(now);
        double bw = meter.bytesPerSecond();
        long cap = params.maxBandwidth();
        if (bw < 0 && cap > 0) {
            bw = cap;
        }
        // Nothing left to send costs nothing to stop, even before a bandwidth was measured (a guest so small that
        // its whole RAM went out within the meter's first window would otherwise never be expected to fit).
        long expected = remainingBytes == 0 ? 0 : bw > 0 ? (long) Math.ceil(remainingBytes / bw * 1000) : -1;
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
    private long estimateRemainingBytes(long now) {
        if (now - lastPeekNanos > PEEK_INTERVAL_NANOS) {
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
        if (iteration > 0 && roundPages >= MIN_PAGES_FOR_RATIO) {
            return (double) roundBytes / roundPages;
        }
        if (lastRoundPages > 0) {
            return (double) lastRoundBytes / lastRoundPages;
        }
        return Pages.SIZE + StreamFormat.RECORD_HEADER;
    }

    /** Sends up to one batch of the current round's pages, from one block. */
    private void sendBatch(boolean duringDowntime) throws IOException {
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
                batch = sink.takeBatch();
                batch.begin(scanBlock);
            }
            round[scanBlock].clear(p);
            unsent--;
            scanPage = p + 1;
            if (encodePage(batch, scanBlock, p)) {
                zero++;
            }
            if (batch.isFull()) {
                break;
            }
        }
        if (batch == null) {
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

    /** Encodes one page into the batch; returns whether it was a zero page. */
    private boolean encodePage(PageBatch batch, int block, long page) {
        MemorySegment memory = blocks.get(block).memory();
        long offset = page << Pages.SHIFT;
        if (Pages.isZero(memory, offset)) {
            batch.addZero(page);
            digest.set(block, page, Pages.ZERO_PAGE_CRC);
            return true;
        }
        int at = batch.addNormal(page);
        // The copy is what is sent and hashed: a guest write racing with it only makes the page dirty again.
        MemorySegment.copy(memory, offset, batch.segment(), at, Pages.SIZE);
        digest.set(block, page, Pages.crc(crc, batch.buffer(), at));
        return false;
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

    private Outcome stopAndCopy() throws IOException {
        long pauseStart = System.nanoTime();
        setStatus(Status.DEVICE);
        guest.pause();
        paused = true;
        try {
            if (roundPages > 0) {
                endRound(iteration == 0 ? "bulk" : "precopy");
            }
            // Final sync: what the guest wrote since the last sync joins what this round had left to send.
            sync();
            roundDirty = unsent;
            meter.restart();
            while (unsent > 0) {
                sendBatch(true);
            }
            byte[] state = guest.saveState();
            stats.controlBytes(sink.executionState(state), true);
            lastDecision = Decision.STOP_AND_COPY;
            endRound("stop-and-copy");
            sink.complete(totalWritten, digest.digest(), completionTimeout);
            sink.handover();
        } catch (IOException | RuntimeException e) {
            return fail(e);
        }
        stats.downtime(System.nanoTime() - pauseStart);
        stats.estimate(0, 0, meter.bytesPerSecond());
        setStatus(Status.COMPLETED);
        return new Outcome(Status.COMPLETED, "migration completed");
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
