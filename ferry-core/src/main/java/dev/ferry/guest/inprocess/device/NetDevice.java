/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.device;

import dev.ferry.guest.OutputGate;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The in-process guest's network device: a TCP port the guest serves, requests in, replies out. Requests go to the
 * guest's vCPU through a queue; replies pass the {@link OutputGate}, which holds them back while replication
 * buffers output and releases them when their checkpoint is acknowledged. The port belongs to the device, not to
 * the process: a migration destination or a standby that resumes the guest binds the same port.
 *
 * <p>Connections do not survive a migration or a failover: clients reconnect, as to a restarted server.
 */
public final class NetDevice implements OutputGate, AutoCloseable {
    /** Bind attempts go on this long: at a switchover the old owner may still hold the port for a moment. */
    private static final long BIND_RETRY_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_QUEUED_REQUESTS = 100_000;

    /** A request from a client: the connection to answer and the command's arguments. */
    public record Request(Connection connection, byte[][] args) {
    }

    private final String host;
    private final int port;
    private final ConcurrentLinkedQueue<Request> rx = new ConcurrentLinkedQueue<>();
    private final AtomicLong queued = new AtomicLong();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final CountDownLatch bound = new CountDownLatch(1);
    private volatile Thread consumer;
    private volatile ServerSocketChannel server;
    private volatile boolean stopped;
    private volatile String bindError;
    private final AtomicLong accepted = new AtomicLong();

    private final Object gate = new Object();
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    private boolean buffering;
    private long epoch;
    private long heldBytes;
    private long releasedBytes;

    private record Held(long epoch, Connection connection, byte[] bytes, boolean closeAfter) {
    }

    public NetDevice(String host, int port) {
        this.host = host;
        this.port = port;
    }

    public int port() {
        return port;
    }

    /** Binds the port (retrying while another process still holds it) and serves clients, in the background. */
    public synchronized void start() {
        if (server != null || stopped) {
            return;
        }
        Thread.ofVirtual().name("net-device :" + port).start(this::bindAndAccept);
    }

    /** Waits until the port is bound; returns false on timeout or if binding failed. */
    public boolean awaitBound(long timeout, TimeUnit unit) throws InterruptedException {
        return bound.await(timeout, unit) && bindError == null && server != null;
    }

    public String bindError() {
        return bindError;
    }

    /** Whether the device was stopped (its guest closed): a port it never bound is then no error. */
    public boolean stopped() {
        return stopped;
    }

    private void bindAndAccept() {
        long deadline = System.nanoTime() + BIND_RETRY_NANOS;
        ServerSocketChannel s = null;
        while (!stopped) {
            try {
                s = ServerSocketChannel.open();
                s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                s.bind(new InetSocketAddress(host, port), 128);
                break;
            } catch (IOException | RuntimeException e) { // UnresolvedAddressException, a host that is no address
                closeQuietly(s);
                s = null;
                // Only a port in use may come free (its previous owner is letting go); an address that is not
                // this machine's (also a BindException) never will.
                boolean transient_ = e instanceof BindException && e.getMessage() != null
                        && e.getMessage().contains("in use");
                if (!transient_ || System.nanoTime() > deadline) {
                    bindError = "cannot listen on " + host + ":" + port + ": "
                            + (e instanceof java.nio.channels.UnresolvedAddressException ? "unknown host " + host
                                    : e.getMessage() != null ? e.getMessage() : e.toString());
                    bound.countDown();
                    return;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
        }
        if (s == null) {
            bound.countDown();
            return;
        }
        server = s;
        bound.countDown();
        while (!stopped) {
            try {
                SocketChannel ch = s.accept();
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                accepted.incrementAndGet();
                Connection c = new Connection(ch);
                connections.add(c);
                c.start();
            } catch (IOException e) {
                if (!stopped) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                }
            }
        }
    }

    /** The next request, or null; called by the vCPU, which the device wakes when a request arrives. */
    public Request poll() {
        consumer = Thread.currentThread();
        Request r = rx.poll();
        if (r != null) {
            queued.decrementAndGet();
        }
        return r;
    }

    /** Output: a reply to {@code c}, held or sent according to the gate. */
    public void reply(Connection c, byte[] bytes) {
        output(c, bytes, false);
    }

    /** A last reply, after which the connection closes (QUIT, protocol errors). */
    public void replyAndClose(Connection c, byte[] bytes) {
        output(c, bytes, true);
    }

    private void output(Connection c, byte[] bytes, boolean closeAfter) {
        synchronized (gate) {
            if (buffering) {
                held.add(new Held(epoch, c, bytes, closeAfter));
                heldBytes += bytes.length;
                return;
            }
            releasedBytes += bytes.length;
        }
        c.send(bytes, closeAfter);
    }

    @Override
    public void buffering(boolean on) {
        synchronized (gate) {
            buffering = on;
            if (!on) {
                releaseUpTo(Long.MAX_VALUE);
            }
        }
    }

    @Override
    public boolean buffering() {
        synchronized (gate) {
            return buffering;
        }
    }

    @Override
    public long closeEpoch() {
        synchronized (gate) {
            return epoch++;
        }
    }

    @Override
    public void release(long upTo) {
        synchronized (gate) {
            releaseUpTo(upTo);
        }
    }

    private void releaseUpTo(long upTo) {
        while (!held.isEmpty() && held.peekFirst().epoch() <= upTo) {
            Held h = held.pollFirst();
            heldBytes -= h.bytes().length;
            releasedBytes += h.bytes().length;
            h.connection().send(h.bytes(), h.closeAfter());
        }
    }

    @Override
    public long heldBytes() {
        synchronized (gate) {
            return heldBytes;
        }
    }

    @Override
    public long releasedBytes() {
        synchronized (gate) {
            return releasedBytes;
        }
    }

    public long connectionsAccepted() {
        return accepted.get();
    }

    /** Closes the port and every connection; output still held is dropped (it was never acknowledged). */
    @Override
    public void close() {
        stopped = true;
        closeQuietly(server);
        for (Connection c : connections) {
            c.close();
        }
        synchronized (gate) {
            held.clear();
            heldBytes = 0;
        }
        bound.countDown();
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /** One client connection: a reader that parses requests, a writer that sends released replies in order. */
    public final class Connection {
        private final SocketChannel channel;
        private final LinkedBlockingQueue<Object> out = new LinkedBlockingQueue<>();
        private static final Object CLOSE = new Object();
        private volatile boolean closed;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        void start() {
            Thread.ofVirtual().name("net-device reader").start(this::readLoop);
            Thread.ofVirtual().name("net-device writer").start(this::writeLoop);
        }

        private void readLoop() {
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            try {
                while (!closed) {
                    if (!buf.hasRemaining()) {
                        if (buf.capacity() >= Resp.MAX_BULK + 64 * 1024) {
                            throw new Resp.ProtocolException("request too large");
                        }
                        ByteBuffer bigger = ByteBuffer.allocate(buf.capacity() * 2);
                        buf.flip();
                        bigger.put(buf);
                        buf = bigger;
                    }
                    if (channel.read(buf) < 0) {
                        break;
                    }
                    buf.flip();
                    byte[][] args;
                    while ((args = Resp.parse(buf)) != null) {
                        if (args.length == 0) {
                            continue;
                        }
                        while (queued.get() > MAX_QUEUED_REQUESTS && !closed) {
                            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                        }
                        queued.incrementAndGet();
                        rx.add(new Request(this, args));
                        Thread t = consumer;
                        if (t != null) {
                            LockSupport.unpark(t);
                        }
                    }
                    buf.compact();
                }
            } catch (Resp.ProtocolException e) {
                replyAndClose(this, Resp.error("ERR Protocol error: " + e.getMessage()));
                return;
            } catch (IOException e) {
                // the client went away
            }
            close();
        }

        void send(byte[] bytes, boolean closeAfter) {
            if (closed) {
                return;
            }
            out.add(bytes);
            if (closeAfter) {
                out.add(CLOSE);
            }
        }

        private void writeLoop() {
            ByteBuffer batch = ByteBuffer.allocate(64 * 1024);
            try {
                while (!closed) {
                    Object first = out.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    Object item = first;
                    boolean closeAfter = false;
                    do {
                        if (item == CLOSE) {
                            closeAfter = true;
                            break;
                        }
                        byte[] b = (byte[]) item;
                        if (b.length > batch.remaining()) {
                            flush(batch);
                        }
                        if (b.length > batch.capacity()) {
                            writeFully(ByteBuffer.wrap(b));
                        } else {
                            batch.put(b);
                        }
                    } while ((item = out.poll()) != null);
                    flush(batch);
                    if (closeAfter) {
                        break;
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the client went away
            }
            close();
        }

        private void flush(ByteBuffer batch) throws IOException {
            batch.flip();
            writeFully(batch);
            batch.clear();
        }

        private void writeFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                channel.write(b);
            }
        }

        void close() {
            closed = true;
            connections.remove(this);
            closeQuietly(channel);
        }
    }
}
