/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.replication;

import dev.ferry.guest.Guest;
import dev.ferry.guest.OutputGate;
import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PageBatch;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ByteChannel;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32C;

/**
 * The primary's side of micro-checkpointing (seed 003), after the standby was seeded with a full migration. Every
 * interval: pause the guest, close the output epoch, sync the dirty log, copy the dirty pages and the execution
 * state into staging slabs, resume the guest (that pause is the checkpoint's downtime); then, while the guest runs,
 * send the checkpoint (CKPT_START, CKPT_PAGES..., CKPT_STATE, CKPT_COMMIT), wait for the standby's CKPT_ACK and
 * release the epoch's output. Anything else ends replication: the guest goes on running, unprotected, and its held
 * output is released (there is no other copy left to protect); the standby is sent an ABORT (if it still listens) so
 * that it does not take over.
 */
public final class Checkpointer implements Runnable {
    /** Told when replication ends for another reason than {@link #stop}. */
    public interface Listener {
        void ended(String reason);
    }

    /** The shortest and longest time between checkpoints: below 10 ms they would run back to back. */
    public static final long MIN_INTERVAL_MS = 10;
    public static final long MAX_INTERVAL_MS = 60_000;

    private static final long HEARTBEAT_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private final Guest guest;
    private final ByteChannel channel;
    private final String peer;
    private final long intervalNanos;
    private final Optional<OutputGate> gate;
    private final ReplicationStats stats;
    private final Listener listener;
    private final List<RamBlock> blocks;
    private final Bitmap[] dirty;
    private final Slabs slabs;
    private final PageBatch batch = new PageBatch();
    private final FrameBuffer control = new FrameBuffer(Records.MAX_TEXT + 64);
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer crcScratch = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C digest = new CRC32C();
    private final FrameReader replies;
    /** Reused for the execution state; grown only when a state is larger than any before. */
    private FrameBuffer stateFrame;
    private final Thread thread;
    private final boolean buffering;
    private volatile boolean stopping;
    private long number;

    /**
     * @param peer      the standby in messages, e.g. "standby 127.0.0.1:4445"
     * @param buffering whether to hold the guest's output until its checkpoint is acknowledged
     * @param slabBytes size of one staging slab
     */
    public Checkpointer(Guest guest, ByteChannel channel, String peer, long intervalMillis, boolean buffering,
            long slabBytes, ReplicationStats stats, Listener listener) {
        this.guest = guest;
        this.channel = channel;
        this.peer = peer;
        if (intervalMillis < MIN_INTERVAL_MS || intervalMillis > MAX_INTERVAL_MS) {
            throw new IllegalArgumentException("checkpoint interval " + intervalMillis + " ms is outside "
                    + MIN_INTERVAL_MS + ".." + MAX_INTERVAL_MS);
        }
        this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
        this.gate = guest.output();
        this.stats = stats;
        this.listener = listener;
        this.blocks = guest.ramBlocks();
        this.dirty = new Bitmap[blocks.size()];
        for (int b = 0; b < dirty.length; b++) {
            dirty[b] = new Bitmap(blocks.get(b).pages());
        }
        // Strikes: N = 10 s / interval consecutive shrinking checkpoints halve the slabs (seed 003).
        this.slabs = new Slabs(slabBytes, (int) Math.max(1, 10_000 / Math.max(1, intervalMillis)));
        this.replies = new FrameReader(channel, "replies from " + peer);
        this.thread = Thread.ofPlatform().name("checkpointer").daemon().unstarted(this);
        this.buffering = buffering;
        stats.configure(intervalMillis, buffering && gate.isPresent());
    }

    /**
     * The standby holds a verified copy (the seed, a full migration, just completed): from now on output waits for
     * the checkpoint that covers it. Call with the guest paused at the end of the seed, before it resumes. Output
     * produced before went out unbuffered: there was no standby to protect it yet.
     */
    public void seedCommitted() {
        gate.ifPresent(g -> g.buffering(buffering));
    }

    public void start() {
        if (channel instanceof dev.ferry.transport.WatchedChannel w) {
            w.watchReads(true); // from now on every checkpoint is answered: a silent standby is a lost one
        }
        stats.status("protecting");
        thread.start();
    }

    /**
     * Stops replication deliberately (the primary shuts down): the standby is told, with an ABORT, not to take over.
     */
    public void stop(String reason) {
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!"ended".equals(stats.status())) {
            abort(reason);
            stats.status("stopped");
        }
        closeQuietly();
        slabs.close();
    }

    @Override
    public void run() {
        long next = System.nanoTime() + intervalNanos;
        try {
            while (!stopping) {
                waitUntil(next);
                if (stopping) {
                    break;
                }
                long now = System.nanoTime();
                next = Math.max(next + intervalNanos, now);
                checkpoint();
            }
        } catch (IOException | RuntimeException e) {
            if (!stopping) {
                end(e.getMessage() != null ? e.getMessage() : e.toString());
            }
        }
    }

    /** Sleeps until {@code deadline}, sending heartbeats when the wait is long. */
    private void waitUntil(long deadline) throws IOException {
        long lastBeat = System.nanoTime();
        while (!stopping) {
            long now = System.nanoTime();
            if (now >= deadline) {
                return;
            }
            if (now - lastBeat >= HEARTBEAT_NANOS) {
                new CheckpointRecords.Heartbeat(number).write(control);
                write(control.finish());
                lastBeat = now;
            }
            LockSupport.parkNanos(Math.min(deadline - now, HEARTBEAT_NANOS));
        }
    }

    private void checkpoint() throws IOException {
        long k = ++number;
        // --- pause: everything the checkpoint needs from the guest, as fast as possible ---
        long t0 = System.nanoTime();
        guest.pause();
        long epoch = gate.map(OutputGate::closeEpoch).orElse(-1L);
        slabs.clear();
        for (int b = 0; b < blocks.size(); b++) {
            Bitmap d = dirty[b];
            guest.dirtyLog().sync(b, d);
            MemorySegment mem = blocks.get(b).memory();
            for (long p = d.nextSetBit(0); p >= 0; p = d.nextSetBit(p + 1)) {
                slabs.add(b, p, mem, p << Pages.SHIFT);
            }
            d.clearAll();
        }
        byte[] state = guest.saveState();
        guest.resume();
        long t1 = System.nanoTime();
        // --- send while the guest runs ---
        long wire = send(k, state);
        long t2 = System.nanoTime();
        awaitAck(k);
        long t3 = System.nanoTime();
        if (epoch >= 0) {
            gate.get().release(epoch);
        }
        slabs.finish();
        // Room for a quarter more than this checkpoint, allocated now rather than in the next pause.
        slabs.reserve(slabs.count() + slabs.count() / 4);
        stats.checkpoint(k, (t1 - t0) / 1e6, slabs.count(), wire, (t2 - t1) / 1e6, (t3 - t2) / 1e6, slabs);
        gate.ifPresent(g -> stats.output(g.heldBytes(), g.releasedBytes()));
    }

    private long send(long k, byte[] state) throws IOException {
        int n = slabs.count();
        long wire = 0;
        new CheckpointRecords.Start(k, n, state.length).write(control);
        wire += write(control.finish());
        digest.reset();
        int i = 0;
        while (i < n) {
            int block = slabs.block(i);
            batch.begin(block, FrameType.CKPT_PAGES);
            while (i < n && slabs.block(i) == block && !batch.isFull()) {
                MemorySegment slab = slabs.segment(i);
                long off = slabs.offset(i);
                if (Pages.isZero(slab, off)) {
                    batch.addZero(slabs.page(i));
                    addToDigest(Pages.ZERO_PAGE_CRC);
                } else {
                    int at = batch.addNormal(slabs.page(i));
                    MemorySegment.copy(slab, off, batch.segment(), at, Pages.SIZE);
                    addToDigest(Pages.crc(crc, batch.buffer(), at));
                }
                i++;
            }
            wire += write(batch.finish());
        }
        if (stateFrame == null || stateFrame.buffer().capacity() < state.length + StreamFormat.FRAME_OVERHEAD) {
            stateFrame = new FrameBuffer(Math.max(state.length, 4096));
        }
        stateFrame.begin(FrameType.CKPT_STATE).put(state);
        wire += write(stateFrame.finish());
        crc.reset();
        crc.update(state);
        addToDigest((int) crc.getValue());
        new CheckpointRecords.Commit(k, n, (int) digest.getValue()).write(control);
        wire += write(control.finish());
        return wire;
    }

    private void addToDigest(int pageCrc) {
        crcScratch.clear();
        crcScratch.putInt(pageCrc).flip();
        digest.update(crcScratch);
    }

    private void awaitAck(long k) throws IOException {
        FrameType t = replies.next();
        if (t == null) {
            throw new IOException("lost the " + peer + ": it closed the connection");
        }
        switch (t) {
            case CKPT_ACK -> {
                long acked = CheckpointRecords.Ack.read(replies.payload()).checkpoint();
                if (acked != k) {
                    throw new IOException(peer + " acknowledged checkpoint " + acked + " while " + k
                            + " was expected");
                }
            }
            case CKPT_NACK -> {
                CheckpointRecords.Nack nack = CheckpointRecords.Nack.read(replies.payload());
                throw new IOException(peer + " refused checkpoint " + nack.checkpoint() + ": "
                        + nack.reason());
            }
            case ERROR -> throw new IOException(peer + " failed: "
                    + Records.Reason.read(replies.payload()).text());
            default -> throw new IOException(peer + " sent an unexpected " + t + " frame");
        }
    }

    private long write(ByteBuffer frame) throws IOException {
        long n = frame.remaining();
        while (frame.hasRemaining()) {
            channel.write(frame);
        }
        return n;
    }

    /** Tells the standby, if it still listens, that replication stops by the primary's decision: no takeover. */
    private void abort(String reason) {
        try {
            new Records.Reason(reason).write(control, FrameType.ABORT);
            write(control.finish());
        } catch (IOException | RuntimeException ignored) {
            // the standby may be gone already
        }
    }

    private void end(String reason) {
        stats.ended(reason);
        // Giving up on the standby is this primary's decision, the guest runs on here: the standby must not take over.
        abort("it gave up: " + reason);
        // Nothing can fail over any more: the primary's state is the only one. Held output goes out.
        gate.ifPresent(g -> g.buffering(false));
        gate.ifPresent(g -> stats.output(g.heldBytes(), g.releasedBytes()));
        closeQuietly();
        listener.ended(reason);
    }

    private void closeQuietly() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
