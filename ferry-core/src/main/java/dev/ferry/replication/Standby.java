/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PageKind;
import dev.ferry.stream.PayloadReader;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import dev.ferry.stream.StreamFormatException;
import dev.ferry.stream.StreamFormatException.Problem;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The standby's side of micro-checkpointing. It is seeded by a migration stream (verified like any migration, but
 * not started), then receives checkpoints: each is staged whole in the standby's own slabs, verified (frame CRCs,
 * counts, the checkpoint digest, its execution state loaded into the guest), acknowledged, and only then applied to
 * the guest's RAM. A partial or corrupt checkpoint is never applied. A checkpoint may name each of the guest's pages
 * at most once, so staging never holds more than the guest's RAM.
 *
 * <p>How it ends: if the primary is lost (connection reset or closed, a checkpoint cut short, no frame within the
 * heartbeat timeout), the standby fails over: it returns the guest, which holds the last committed checkpoint (its
 * execution state was loaded before it was acknowledged), ready to resume. If the primary stops replication (ABORT),
 * or a checkpoint is corrupt or a command unexpected (answered with CKPT_NACK), replication ends without failover:
 * the primary is alive and keeps the guest.
 */
public final class Standby {
    /** How replication ended: with a guest to resume (failover), or without. */
    public record Outcome(Guest guest, boolean failover, long committed, String reason) {
    }

    /** How long a refused primary is given to finish sending before the connection is closed on it. */
    private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final FrameReader in;
    private final WritableByteChannel replies;
    private final IncomingStats seedStats;
    private final StandbyStats stats;
    private final FrameBuffer reply = new FrameBuffer(Records.MAX_TEXT + 64);
    private final CRC32C crc = new CRC32C();
    private final CRC32C digest = new CRC32C();
    private final ByteBuffer crcScratch = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    private Guest guest;
    private List<RamBlock> blocks;
    private long guestPages;
    /** Per block, the pages staged in the current checkpoint: a page may come once. */
    private Bitmap[] staged;
    private Slabs staging;
    private byte[] committedState;
    private long committed;

    // The checkpoint being received.
    private CheckpointRecords.Start current;
    private long stagedRecords;
    private byte[] stagedState;

    public Standby(FrameReader in, WritableByteChannel replies, IncomingStats seedStats, StandbyStats stats) {
        this.in = in;
        this.replies = replies;
        this.seedStats = seedStats;
        this.stats = stats;
    }

    /** Receives the seed, then checkpoints until replication ends. Never returns a guest from a partial state. */
    public Outcome run(long slabBytes) throws IOException, GuestException {
        stats.status("seeding");
        StreamLoader loader = new StreamLoader(in, replies, StreamFormat.KNOWN_CAPABILITIES, seedStats, false);
        guest = loader.load();
        blocks = guest.ramBlocks();
        guestPages = guest.ramPages();
        staged = new Bitmap[blocks.size()];
        for (int b = 0; b < staged.length; b++) {
            staged[b] = new Bitmap(blocks.get(b).pages());
        }
        committedState = loader.executionState(); // the loader has loaded it into the guest
        staging = new Slabs(slabBytes, 100);
        stats.status("protecting");
        try {
            return receive();
        } finally {
            staging.close();
        }
    }

    private Outcome receive() throws GuestException {
        while (true) {
            FrameType t;
            try {
                t = in.next();
                if (t == null) {
                    return failover("the primary closed the connection");
                }
                switch (t) {
                    case HEARTBEAT -> CheckpointRecords.Heartbeat.read(in.payload());
                    // The seed's stream may end with keepalives sent while the primary waited for COMPLETE_ACK.
                    case KEEPALIVE -> in.payload().expectEnd();
                    case CKPT_START -> start(CheckpointRecords.Start.read(in.payload()));
                    case CKPT_PAGES -> stagePages(in.payload());
                    case CKPT_STATE -> stageState(in.payload());
                    case CKPT_COMMIT -> commit(CheckpointRecords.Commit.read(in.payload()));
                    case ABORT -> {
                        String why = Records.Reason.read(in.payload()).text();
                        return end("the primary stopped replication: " + why);
                    }
                    default -> throw protocol("unexpected " + t + " frame");
                }
            } catch (StreamFormatException e) {
                if (e.problem() == Problem.TRUNCATED) {
                    return failover("the primary was lost in the middle of checkpoint "
                            + (current == null ? committed + 1 : current.checkpoint()) + " (" + e.getMessage() + ")");
                }
                return reject(e.getMessage());
            } catch (IOException e) {
                return failover("the primary was lost: " + e.getMessage());
            }
        }
    }

    private void start(CheckpointRecords.Start s) throws StreamFormatException {
        if (current != null) {
            throw protocol("checkpoint " + s.checkpoint() + " started before checkpoint " + current.checkpoint()
                    + " was committed");
        }
        if (s.checkpoint() != committed + 1) {
            throw protocol("checkpoint " + s.checkpoint() + " follows committed checkpoint " + committed);
        }
        if (s.pages() > guestPages) {
            throw protocol("checkpoint " + s.checkpoint() + " announces " + s.pages() + " page records, the guest has "
                    + guestPages + " pages");
        }
        current = s;
        stagedRecords = 0;
        stagedState = null;
        for (int i = 0; i < staging.count(); i++) {
            staged[staging.block(i)].clear(staging.page(i)); // what the previous checkpoint staged
        }
        staging.clear();
        digest.reset();
    }

    private void stagePages(PayloadReader r) throws StreamFormatException {
        if (current == null) {
            throw protocol("page records outside a checkpoint");
        }
        int b = (int) r.u32("block index", 0, blocks.size() - 1);
        long count = r.u32("record count", 1, StreamFormat.MAX_RECORDS);
        if (stagedRecords + count > current.pages()) {
            throw protocol("checkpoint " + current.checkpoint() + " announced " + current.pages()
                    + " page records, more arrived");
        }
        long maxPage = blocks.get(b).pages() - 1;
        Bitmap seen = staged[b];
        ByteBuffer buffer = r.buffer();
        MemorySegment frame = in.frameSegment();
        for (int i = 0; i < count; i++) {
            long page = r.u32("page index", 0, maxPage);
            if (!seen.testAndSet(page)) {
                throw protocol("checkpoint " + current.checkpoint() + " sends page " + page + " of block " + b
                        + " twice");
            }
            int code = r.u8("page kind");
            PageKind kind = PageKind.of(code);
            if (kind == PageKind.ZERO) {
                staging.add(b, page, Pages.ZERO_PAGE, 0);
                addToDigest(Pages.ZERO_PAGE_CRC);
            } else if (kind == PageKind.NORMAL) {
                int at = buffer.position();
                r.skip(Pages.SIZE, "page data");
                staging.add(b, page, frame, at);
                addToDigest(Pages.crc(crc, buffer, at));
            } else {
                throw r.error(Problem.MALFORMED_PAYLOAD, "page kind " + code + " is not valid in a checkpoint");
            }
        }
        r.expectEnd();
        stagedRecords += count;
    }

    private void stageState(PayloadReader r) throws StreamFormatException {
        if (current == null || stagedState != null) {
            throw protocol("execution state outside a checkpoint, or twice");
        }
        if (r.remaining() != current.stateLength()) {
            throw protocol("checkpoint " + current.checkpoint() + " announced " + current.stateLength()
                    + " bytes of execution state, " + r.remaining() + " arrived");
        }
        stagedState = r.rest();
    }

    private void commit(CheckpointRecords.Commit c) throws IOException, GuestException {
        if (current == null || c.checkpoint() != current.checkpoint()) {
            throw protocol("commit of checkpoint " + c.checkpoint() + " that was not started");
        }
        if (stagedState == null || stagedRecords != current.pages() || c.pages() != stagedRecords) {
            throw protocol("checkpoint " + c.checkpoint() + " is incomplete: " + stagedRecords + " of "
                    + current.pages() + " page records" + (stagedState == null ? ", no execution state" : ""));
        }
        crc.reset();
        crc.update(stagedState);
        addToDigest((int) crc.getValue());
        if ((int) digest.getValue() != c.digest()) {
            throw new StreamFormatException(Problem.DIGEST_MISMATCH, in.frameOffset(), "checkpoint "
                    + c.checkpoint() + " digest mismatch: the primary's is 0x" + Integer.toHexString(c.digest())
                    + ", the staged copy's 0x" + Integer.toHexString((int) digest.getValue()));
        }
        // A failover resumes from what is acknowledged: the state must load now, not only at failover. Loading it also
        // leaves the guest holding the committed checkpoint's state, so a failover has nothing left that can fail.
        try {
            guest.loadState(stagedState);
        } catch (GuestException e) {
            guest.loadState(committedState); // it loaded before: back to the committed checkpoint's state
            throw protocol("checkpoint " + c.checkpoint() + ": its execution state does not load: " + e.getMessage());
        }
        // Verified and staged: acknowledge, then apply. The primary releases the output this checkpoint covers.
        new CheckpointRecords.Ack(c.checkpoint()).write(reply);
        write(reply.finish());
        long t0 = System.nanoTime();
        for (int i = 0; i < staging.count(); i++) {
            MemorySegment.copy(staging.segment(i), staging.offset(i), blocks.get(staging.block(i)).memory(),
                    staging.page(i) << Pages.SHIFT, Pages.SIZE);
        }
        staging.finish();
        committedState = stagedState;
        committed = c.checkpoint();
        stats.committed(committed, stagedRecords, (System.nanoTime() - t0) / 1e6);
        current = null;
    }

    private void addToDigest(int pageCrc) {
        crcScratch.clear();
        crcScratch.putInt(pageCrc).flip();
        digest.update(crcScratch);
    }

    private StreamFormatException protocol(String message) {
        return new StreamFormatException(Problem.UNEXPECTED_FRAME, in.frameOffset(), "replication stream from the"
                + " primary at byte " + in.frameOffset() + ": " + message);
    }

    /** The primary is gone: resume the last committed checkpoint (its state is loaded: {@link #commit}). */
    private Outcome failover(String reason) {
        stats.ended(reason, true);
        return new Outcome(guest, true, committed, reason);
    }

    /** A corrupt checkpoint or a protocol violation: refuse it, end replication, keep the committed state. */
    private Outcome reject(String reason) {
        stats.rejected();
        long k = current != null ? current.checkpoint() : committed + 1;
        try {
            new CheckpointRecords.Nack(k, reason).write(reply);
            write(reply.finish());
            // The primary reads answers only after it has sent the whole checkpoint. Let it finish (it closes once it
            // has read the NACK) rather than close on unread data: that resets the connection, and the reset can
            // destroy the NACK and its reason before the primary reads them.
            in.discardRest(rejectedCheckpointLimit(), System.nanoTime() + DRAIN_NANOS);
        } catch (IOException | RuntimeException ignored) {
            // the primary may be gone too
        }
        return end("checkpoint " + k + " refused: " + reason + "; keeping checkpoint " + committed);
    }

    /** The most a checkpoint can still send: each of the guest's pages once, in full frames, and the largest state. */
    private long rejectedCheckpointLimit() {
        long frames = guestPages / StreamFormat.MAX_RECORDS + 1;
        return guestPages * (StreamFormat.RECORD_HEADER + Pages.SIZE)
                + frames * (StreamFormat.FRAME_OVERHEAD + StreamFormat.PAGES_HEADER) + 2L * StreamFormat.MAX_PAYLOAD;
    }

    private Outcome end(String reason) {
        stats.ended(reason, false);
        Guest g = guest;
        guest = null;
        g.close();
        return new Outcome(null, false, committed, reason);
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            replies.write(b);
        }
    }
}
