/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
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
    private final BlockingQueue<JsonNode> replies = new LinkedBlockingQueue<>();
    private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
    private final Thread reader;
    private final JsonNode greeting;
    private volatile IOException failure;

    private QmpClient(SocketChannel channel) throws IOException {
        this.channel = channel;
        this.out = Channels.newOutputStream(channel);
        MappingIterator<JsonNode> in = QmpServer.JSON.readerFor(JsonNode.class)
                .readValues(Channels.newInputStream(channel));
        if (!in.hasNextValue()) {
            throw new IOException("the control socket closed without a greeting");
        }
        greeting = in.nextValue();
        if (!greeting.has("QMP")) {
            throw new IOException("not a QMP control socket: " + greeting);
        }
        reader = Thread.ofPlatform().daemon().name("qmp client").start(() -> {
            try {
                while (in.hasNextValue()) {
                    JsonNode m = in.nextValue();
                    (m.has("event") ? events : replies).add(m);
                }
                failure = new IOException("the control socket closed the connection");
            } catch (IOException | RuntimeException e) {
                failure = new IOException("control socket: " + e.getMessage());
            }
            replies.add(QmpServer.JSON.createObjectNode());
        });
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
                QmpClient c = new QmpClient(ch);
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

    /** The whole reply to a command: {@code {"return": ...}} or {@code {"error": ...}}. */
    public JsonNode call(String command, JsonNode arguments) throws IOException {
        ObjectNode msg = QmpServer.JSON.createObjectNode();
        msg.put("execute", command);
        if (arguments != null) {
            msg.set("arguments", arguments);
        }
        synchronized (this) {
            out.write(QmpServer.JSON.writeValueAsBytes(msg));
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            try {
                JsonNode r = replies.take();
                if (r.isEmpty() && failure != null) {
                    throw failure;
                }
                return r;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    /** The return value of a command, or a {@link QmpError} with its class and description. */
    public JsonNode execute(String command, JsonNode arguments) throws IOException, QmpError {
        JsonNode r = call(command, arguments);
        if (r.has("error")) {
            throw new QmpError(r.at("/error/class").asText(), r.at("/error/desc").asText());
        }
        return r.get("return");
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
