/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.transport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A channel whose reads and writes may not stall: if one makes no progress for the timeout (the peer hung, the
 * network vanished without a reset), a watchdog closes the channel and the blocked call fails with a
 * {@link PeerTimeoutException} that says so, instead of hanging forever.
 *
 * <p>Only time this process was awake counts: if the watchdog wakes up much later than it meant to (the process was
 * frozen: SIGSTOP, a long pause of the JVM, a suspended machine), the peer's silence is measured afresh from then,
 * giving the reader a chance to read what arrived in the meantime. And a read is not declared stalled while bytes
 * are waiting in the socket: the peer sent them, so it is alive.
 */
public final class WatchedChannel implements ByteChannel {
    /** How much later than planned the watchdog may wake before it counts as a freeze of this process. */
    private static final long FROZEN_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final ByteChannel channel;
    private final String peer;
    private final long timeoutNanos;
    /** Start of the read or write in progress, or 0 when none is. */
    private volatile long readSince;
    private volatile long writeSince;
    private volatile String fired;
    private volatile boolean watchReads = true;
    /** The socket's input, to ask how many bytes wait in it (never read from), or null if it is not a TCP socket. */
    private final InputStream socketInput;
    private final Thread watchdog;

    public WatchedChannel(ByteChannel channel, String peer, Duration timeout) {
        this.channel = channel;
        this.peer = peer;
        this.timeoutNanos = timeout.toNanos();
        this.socketInput = socketInput(channel);
        this.watchdog = Thread.ofVirtual().name("watchdog " + peer).start(this::watch);
    }

    private void watch() {
        long period = TimeUnit.MILLISECONDS.toNanos(Math.min(500, Math.max(10, timeoutNanos / 4_000_000)));
        long awake = System.nanoTime(); // since when this process has run without a freeze
        long last = awake;
        while (channel.isOpen()) {
            LockSupport.parkNanos(period);
            long now = System.nanoTime();
            if (now - last > 2 * period + FROZEN_NANOS) {
                awake = now; // frozen: the silence during the freeze says nothing about the peer
            }
            last = now;
            long r = readSince;
            long w = writeSince;
            String what = null;
            if (r != 0 && watchReads && now - Math.max(r, awake) > timeoutNanos && !bytesWaiting()) {
                what = "nothing received from " + peer;
            } else if (w != 0 && now - Math.max(w, awake) > timeoutNanos) {
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

    /** Whether the socket holds bytes not read yet (a blocked reader is about to get them); false if unknown. */
    private boolean bytesWaiting() {
        if (socketInput == null) {
            return false;
        }
        try {
            return socketInput.available() > 0;
        } catch (IOException | RuntimeException e) {
            return false;
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

    private static InputStream socketInput(ByteChannel channel) {
        if (channel instanceof SocketChannel s) {
            try {
                return s.socket().getInputStream();
            } catch (IOException | RuntimeException e) {
                return null; // not connected, or a socket without an adaptor (UNIX domain)
            }
        }
        return null;
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
