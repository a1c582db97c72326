/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A client of a QMP control socket: negotiates, executes commands in order, and collects events. */
public final class QmpClient implements AutoCloseable {
    private final SocketChannel channel;
    private final OutputStream out;
    /**
     * Events kept for {@link #nextEvent} and {@link #awaitEvent}: a caller that never asks for them (one that only
     * executes commands) must not make a long-lived client grow without bound, so past this many the oldest go.
     */
    public static final int EVENT_BACKLOG = 4096;
    /** Replies waiting for their command: more than this and the peer answers what was never asked. */
    private static final int REPLY_BACKLOG = 64;

    private final BlockingQueue<JsonNode> replies = new LinkedBlockingQueue<>();
    private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>(EVENT_BACKLOG);
    private volatile long droppedEvents;
    private final Thread reader;
    private final JsonNode greeting;
    private volatile IOException failure;

    private static final Duration FOREVER = Duration.ofNanos(Long.MAX_VALUE);
    /** Queued as a reply when the connection ends: whoever waits for one gets {@link #failure} instead. */
    private static final JsonNode CLOSED = QmpServer.JSON.createObjectNode();

    private QmpClient(SocketChannel channel, Duration timeout) throws IOException {
        this.channel = channel;
        this.out = Channels.newOutputStream(channel);
        // The reader takes the greeting too (even making the parser reads), so that a peer that never sends one
        // does not hold us for ever.
        reader = Thread.ofPlatform().daemon().name("qmp client").start(() -> {
            try {
                MessageReader in = new MessageReader(Channels.newInputStream(channel));
                for (JsonNode m = in.next(); m != null; m = in.next()) {
                    if (m.has("event")) {
                        while (!events.offer(m)) {
                            events.poll();
                            droppedEvents++; // the reader is the only writer
                        }
                    } else if (replies.size() >= REPLY_BACKLOG) {
                        // Whoever waits next gets the failure below, not an answer meant for no command of theirs.
                        replies.clear();
                        channel.close();
                        throw new IOException("sent more than " + REPLY_BACKLOG + " answers to commands it was"
                                + " not sent");
                    } else {
                        replies.add(m);
                    }
                }
                failure = new IOException("the control socket closed the connection");
            } catch (IOException | RuntimeException e) {
                failure = new IOException("control socket: " + firstLine(e));
            }
            replies.add(CLOSED);
        });
        JsonNode g = take(timeout, "greeting");
        if (g == CLOSED) {
            throw new IOException(failure.getMessage().contains("closed the connection")
                    ? "the control socket closed without a greeting" : failure.getMessage());
        }
        if (!g.has("QMP")) {
            throw new IOException("not a QMP control socket: its greeting is " + shorten(g));
        }
        greeting = g;
    }

    /** The next reply, or an IOException naming {@code what} after {@code timeout} (the connection is closed). */
    private JsonNode take(Duration timeout, String what) throws IOException {
        try {
            JsonNode r = replies.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (r == null) {
                channel.close();
                throw new IOException("the control socket sent no " + what + " within " + timeout.toMillis() + " ms");
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            channel.close();
            throw new IOException("interrupted");
        }
    }

    /** At most 200 characters of a message, for an error line. */
    private static String shorten(JsonNode m) {
        String t = m.toString();
        return t.length() <= 200 ? t : t.substring(0, 200) + "... (" + t.length() + " characters)";
    }

    private static String firstLine(Exception e) {
        return e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
    }

    /** Connects and negotiates capabilities. */
    public static QmpClient connect(ControlAddress address, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                SocketChannel ch = SocketChannel.open(address.family());
                try {
                    ch.connect(address.socketAddress());
                } catch (IOException e) {
                    ch.close();
                    throw e;
                }
                QmpClient c;
                try {
                    c = new QmpClient(ch, timeout);
                } catch (IOException e) {
                    ch.close();
                    throw e;
                }
                c.execute("qmp_capabilities", null);
                return c;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("cannot reach control socket " + address + ": " + e.getMessage());
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            } catch (QmpError e) {
                throw new IOException("capability negotiation refused: " + e.getMessage());
            }
        }
    }

    public JsonNode greeting() {
        return greeting;
    }

    /** The whole reply to a command: {@code {"return": ...}} or {@code {"error": ...}}. Waits as long as it takes. */
    public JsonNode call(String command, JsonNode arguments) throws IOException {
        return call(command, arguments, FOREVER);
    }

    /**
     * The whole reply to a command, or an IOException after {@code timeout} (the connection is then closed: a late
     * reply would answer the next command). A reply that is neither {@code {"return": ...}} nor
     * {@code {"error": {...}}} is refused, as is a connection that ends first.
     */
    public JsonNode call(String command, JsonNode arguments, Duration timeout) throws IOException {
        ObjectNode msg = QmpServer.JSON.createObjectNode();
        msg.put("execute", command);
        if (arguments != null) {
            msg.set("arguments", arguments);
        }
        synchronized (this) {
            try {
                out.write(QmpServer.JSON.writeValueAsBytes(msg));
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException e) {
                // A server that refuses us (too many clients) says why, then closes: its word, if it comes.
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                while (replies.peek() == null && System.nanoTime() - until < 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
                }
                JsonNode said = replies.peek();
                if (said == CLOSED) {
                    throw failure;
                }
                if (said == null || !said.path("error").isObject()) {
                    throw e;
                }
            }
            JsonNode r = take(timeout, "answer to " + command);
            if (r == CLOSED) {
                replies.add(CLOSED); // for the next caller too
                throw failure;
            }
            if (!r.isObject() || !(r.has("return") || r.path("error").isObject())) {
                throw new IOException("the control socket's answer to " + command + " is not a QMP reply: "
                        + shorten(r));
            }
            return r;
        }
    }

    /** Whether the connection has ended (the peer closed it, or sent something unreadable). */
    public boolean closed() {
        return failure != null;
    }

    /** Why the connection ended, or null while it is open. */
    public String closedBecause() {
        IOException f = failure;
        return f == null ? null : f.getMessage();
    }

    /** The return value of a command, or a {@link QmpError} with its class and description. */
    public JsonNode execute(String command, JsonNode arguments) throws IOException, QmpError {
        JsonNode r = call(command, arguments);
        if (r.has("error")) {
            throw new QmpError(r.at("/error/class").asText(), r.at("/error/desc").asText());
        }
        return r.get("return");
    }

    /** How many events were dropped, oldest first, because more than {@link #EVENT_BACKLOG} waited to be read. */
    public long droppedEvents() {
        return droppedEvents;
    }

    /** The next event, or null after {@code timeout}. */
    public JsonNode nextEvent(Duration timeout) throws InterruptedException {
        return events.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Waits for an event named {@code name} (others are skipped), or returns null after {@code timeout}. */
    public JsonNode awaitEvent(String name, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode e = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
            if (e == null || e.get("event").asText().equals(name)) {
                return e;
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
