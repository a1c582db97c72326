/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A channel whose reads and writes may not stall: if one makes no progress for the timeout (the peer hung, the
 * network vanished without a reset), a watchdog closes the channel and the blocked call fails with a
 * {@link PeerTimeoutException} that says so, instead of hanging forever.
 */
public final class WatchedChannel implements ByteChannel {
    private final ByteChannel channel;
    private final String peer;
    private final long timeoutNanos;
    /** Start of the read or write in progress, or 0 when none is. */
    private volatile long readSince;
    private volatile long writeSince;
    private volatile String fired;
    private volatile boolean watchReads = true;
    private final Thread watchdog;

    public WatchedChannel(ByteChannel channel, String peer, Duration timeout) {
        this.channel = channel;
        this.peer = peer;
        this.timeoutNanos = timeout.toNanos();
        this.watchdog = Thread.ofVirtual().name("watchdog " + peer).start(this::watch);
    }

    private void watch() {
        while (channel.isOpen()) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(Math.min(500, Math.max(10, timeoutNanos / 4_000_000))));
            long now = System.nanoTime();
            long r = readSince;
            long w = writeSince;
            String what = null;
            if (r != 0 && watchReads && now - r > timeoutNanos) {
                what = "nothing received from " + peer;
            } else if (w != 0 && now - w > timeoutNanos) {
                what = peer + " accepted no data";
            }
            if (what != null) {
                long ms = TimeUnit.NANOSECONDS.toMillis(timeoutNanos); // 900 ms is not "0 s"
                fired = what + " for " + (ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms") + ": peer lost";
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // closing is all we can do
                }
                return;
            }
        }
    }

    /**
     * Whether a read that waits longer than the timeout means the peer is lost (the default). A migration source
     * turns it off: its destination says nothing until the completion, however long precopy takes; a stalled
     * destination shows as writes that make no progress.
     */
    public WatchedChannel watchReads(boolean on) {
        this.watchReads = on;
        if (on) {
            readSince = readSince == 0 ? 0 : System.nanoTime();
        }
        return this;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readSince = System.nanoTime();
        try {
            return channel.read(dst);
        } catch (ClosedChannelException e) {
            throw timeoutOr(e);
        } finally {
            readSince = 0;
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        writeSince = System.nanoTime();
        try {
            return channel.write(src);
        } catch (ClosedChannelException e) {
            throw timeoutOr(e);
        } finally {
            writeSince = 0;
        }
    }

    private IOException timeoutOr(IOException e) {
        String f = fired;
        return f != null ? new PeerTimeoutException(f) : e;
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
        watchdog.interrupt();
    }

    /** The watchdog gave up on the peer. */
    public static final class PeerTimeoutException extends IOException {
        public PeerTimeoutException(String message) {
            super(message);
        }
    }
}
