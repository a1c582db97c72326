/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A control socket speaking QMP's framing: on connect a greeting; the client must send {@code qmp_capabilities}
 * first; then {@code {"execute": NAME, "arguments": {...}, "id": ...}} is answered with
 * {@code {"return": ...}} or {@code {"error": {"class": ..., "desc": ...}}}, the {@code id} echoed; asynchronous
 * {@code {"event": NAME, "data": {...}, "timestamp": {...}}} go to every negotiated client. Each message is one JSON
 * object followed by CRLF. Several clients may be connected; each has a virtual thread.
 */
public final class QmpServer implements AutoCloseable {
    /** The most bytes one message may take (with the blanks before it): a longer one is refused, not read. */
    public static final int MAX_MESSAGE_BYTES = 1 << 20;
    /** The deepest nesting of arrays and objects a message may have. */
    public static final int MAX_NESTING_DEPTH = 64;
    /** The most clients connected at once: one more is answered with an error and disconnected. */
    public static final int MAX_CLIENTS = 64;

    /**
     * Parsers must not close the socket they read: an error is still answered on it. Nesting is bounded (the length
     * of a message is bounded by {@link MessageBound}: Jackson's document length counts a whole connection).
     */
    public static final ObjectMapper JSON = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .disable(com.fasterxml.jackson.core.StreamReadFeature.AUTO_CLOSE_SOURCE)
            .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING_DEPTH).build())
            .build());

    private final ServerSocketChannel server;
    private final ControlAddress address;
    private final String product;
    private final Map<String, QmpHandler> handlers = new ConcurrentHashMap<>();
    private final List<Client> clients = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private QmpServer(ServerSocketChannel server, ControlAddress address, String product) {
        this.server = server;
        this.address = address;
        this.product = product;
        register("query-commands", a -> handlers.keySet().stream().sorted().map(n -> Map.of("name", n)).toList());
        register("query-version", a -> {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("qemu", Map.of("major", 0, "minor", 1, "micro", 0));
            v.put("package", product);
            return v;
        });
    }

    /**
     * Listens on {@code address}. A unix socket's stale file (a socket nobody serves) is replaced; a socket another
     * process serves, or a file that is not a socket, is left alone and refused. Loopback TCP unless told otherwise.
     */
    public static QmpServer open(ControlAddress address, String product) throws IOException {
        if (address.isUnix()) {
            replaceStale(address);
        }
        ServerSocketChannel s = ServerSocketChannel.open(address.family());
        try {
            s.bind(address.socketAddress());
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot open control socket " + address + ": " + e.getMessage());
        }
        QmpServer q = new QmpServer(s, address, product);
        Thread.ofVirtual().name("control " + address).start(q::accept);
        return q;
    }

    private static void replaceStale(ControlAddress address) throws IOException {
        java.nio.file.Path p = address.unixPath();
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(p)) {
            throw new IOException("cannot open control socket " + address + ": " + p + " exists and is not a socket"
                    + " (remove it, or choose another path)");
        }
        try (SocketChannel probe = SocketChannel.open(address.family())) {
            probe.connect(address.socketAddress());
            throw new IOException("cannot open control socket " + address + ": another process serves it");
        } catch (java.net.ConnectException stale) {
            // nobody listens: the file a process that ended left behind
        }
        Files.deleteIfExists(p);
    }

    private static boolean isSocket(java.nio.file.Path p) throws IOException {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            return (mode & 0170000) == 0140000;
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).isOther();
        }
    }

    public ControlAddress address() {
        return address;
    }

    /** Adds a command; the name is QEMU's where QEMU has the command. */
    public QmpServer register(String command, QmpHandler handler) {
        handlers.put(command, handler);
        return this;
    }

    /** Clients connected that finished capability negotiation (they receive events). */
    public int negotiatedClients() {
        int n = 0;
        for (Client c : clients) {
            if (c.negotiated) {
                n++;
            }
        }
        return n;
    }

    public Set<String> commands() {
        return handlers.keySet();
    }

    /** Sends an event to every client that finished capability negotiation. */
    public void emit(String event, Map<String, ?> data) {
        long micros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", event);
        if (data != null) {
            m.put("data", data);
        }
        m.put("timestamp", Map.of("seconds", micros / 1_000_000, "microseconds", micros % 1_000_000));
        byte[] line = encode(m);
        for (Client c : clients) {
            if (c.negotiated) {
                c.post(line);
            }
        }
    }

    /** One message as it goes on the wire: the JSON object and CRLF. */
    private static byte[] encode(Map<String, Object> message) {
        try {
            byte[] json = JSON.writeValueAsBytes(message);
            byte[] line = java.util.Arrays.copyOf(json, json.length + 2);
            line[json.length] = '\r';
            line[json.length + 1] = '\n';
            return line;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode a QMP message: " + e.getOriginalMessage(), e);
        }
    }

    private void accept() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                Client c = new Client(ch);
                synchronized (clients) {
                    c.tooMany = clients.size() >= MAX_CLIENTS;
                    if (!c.tooMany) {
                        clients.add(c);
                    }
                }
                Thread.ofVirtual().name("control client").start(c::serve);
                Thread.ofVirtual().name("control client writer").start(c::write);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                // Out of file descriptors, say: not a busy loop while it lasts.
                java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Client c : clients) {
            c.close();
        }
        if (address.isUnix()) {
            try {
                Files.deleteIfExists(address.unixPath());
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /**
     * Messages a client may have waiting to be written. Its answers wait for room (a client that sends commands
     * faster than it reads answers only slows itself down); an event that finds no room drops that client, so
     * that one client that stopped reading never holds up events, other clients or the migration that emits them.
     */
    static final int OUTBOX_MESSAGES = 256;
    /**
     * And at most this many bytes: answers can be as long as the 1 MiB a command may be (an echo), so a count alone
     * would let one client hold hundreds of MiB. A single message longer than this still goes when nothing waits.
     */
    static final int OUTBOX_BYTES = 4 << 20;
    /** Queued after a client's last message: its writer closes the connection when it gets there. */
    private static final byte[] END = new byte[0];

    private final class Client {
        private final SocketChannel channel;
        private final OutputStream out;
        /** Written by this client's own writer thread, in order: nothing else blocks on the client's socket. */
        private final java.util.concurrent.BlockingQueue<byte[]> outbox =
                new java.util.concurrent.ArrayBlockingQueue<>(OUTBOX_MESSAGES);
        /** Bytes in {@link #outbox}. */
        private final java.util.concurrent.atomic.AtomicLong queuedBytes = new java.util.concurrent.atomic.AtomicLong();
        private volatile boolean negotiated;
        private volatile boolean gone;
        /** Connected when {@link #MAX_CLIENTS} already were: told so, then disconnected. */
        private boolean tooMany;

        Client(SocketChannel channel) {
            this.channel = channel;
            this.out = Channels.newOutputStream(channel);
        }

        void serve() {
            try {
                Map<String, Object> greeting = new LinkedHashMap<>();
                Map<String, Object> qmp = new LinkedHashMap<>();
                qmp.put("version", Map.of("qemu", Map.of("major", 0, "minor", 1, "micro", 0), "package", product));
                qmp.put("capabilities", List.of());
                greeting.put("QMP", qmp);
                send(greeting);
                if (tooMany) {
                    send(error(null, QmpError.generic("too many control clients (" + MAX_CLIENTS
                            + " connected): try again once one has disconnected")));
                    finish();
                    return;
                }
                try (MessageReader messages = new MessageReader(Channels.newInputStream(channel))) {
                    for (JsonNode m = messages.next(); m != null; m = messages.next()) {
                        handle(m);
                    }
                } catch (MessageReader.TooLong e) {
                    send(error(null, QmpError.generic(e.getMessage())));
                } catch (JsonProcessingException | RuntimeException e) {
                    String m = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                    send(error(null, QmpError.generic("JSON parse error: " + m)));
                }
            } catch (IOException e) {
                close(); // the client went away
                return;
            }
            finish();
        }

        private void handle(JsonNode msg) {
            JsonNode id = msg.isObject() ? msg.get("id") : null;
            if (!msg.isObject() || !msg.has("execute") || !msg.get("execute").isTextual()) {
                send(error(id, QmpError.generic("QMP input must be a JSON object with \"execute\"")));
                return;
            }
            String name = msg.get("execute").asText();
            JsonNode args = msg.get("arguments");
            if (args != null && !args.isObject()) {
                send(error(id, QmpError.generic("QMP input member 'arguments' must be an object")));
                return;
            }
            for (var it = msg.fieldNames(); it.hasNext();) {
                String f = it.next();
                if (!f.equals("execute") && !f.equals("arguments") && !f.equals("id")) {
                    send(error(id, QmpError.generic("QMP input member '" + f + "' is unexpected")));
                    return;
                }
            }
            if (name.equals("qmp_capabilities")) {
                if (negotiated) {
                    send(error(id, QmpError.commandNotFound(
                            "Capabilities negotiation is already complete, command ignored")));
                } else {
                    negotiated = true;
                    send(ok(id, null));
                }
                return;
            }
            if (!negotiated) {
                send(error(id, QmpError.commandNotFound("Expecting capabilities negotiation with"
                        + " 'qmp_capabilities'")));
                return;
            }
            QmpHandler h = handlers.get(name);
            if (h == null) {
                send(error(id, QmpError.commandNotFound("The command " + name + " has not been found")));
                return;
            }
            try {
                ObjectNode a = args == null ? JSON.createObjectNode() : (ObjectNode) args;
                send(ok(id, h.handle(a)));
            } catch (QmpError e) {
                send(error(id, e));
            } catch (RuntimeException e) {
                send(error(id, QmpError.generic(e.getMessage() != null ? e.getMessage() : e.toString())));
            }
        }

        private Map<String, Object> ok(JsonNode id, Object value) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("return", value == null ? Map.of() : value);
            if (id != null) {
                m.put("id", id);
            }
            return m;
        }

        private Map<String, Object> error(JsonNode id, QmpError e) {
            Map<String, Object> m = new LinkedHashMap<>();
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("class", e.errorClass());
            err.put("desc", e.getMessage());
            m.put("error", err);
            if (id != null) {
                m.put("id", id);
            }
            return m;
        }

        /** Queues an answer, waiting while the outbox is full; called by this client's reader thread only. */
        void send(Map<String, Object> message) {
            enqueue(encode(message));
        }

        private void enqueue(byte[] line) {
            try {
                // The client is slow to read its answers while this waits: so is the reading of its next command.
                while (!gone) {
                    long queued = queuedBytes.get();
                    if (queued > 0 && queued + line.length > OUTBOX_BYTES) {
                        Thread.sleep(10);
                    } else if (outbox.offer(line, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        queuedBytes.addAndGet(line.length);
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
            }
        }

        /** Queues an event without waiting; a client with no room left has stopped reading and is dropped. */
        void post(byte[] line) {
            if (queuedBytes.addAndGet(line.length) > OUTBOX_BYTES || !outbox.offer(line)) {
                close();
            }
        }

        /** The writer thread: sends what is queued, in order, until the end mark or the client is gone. */
        void write() {
            try {
                while (!gone) {
                    byte[] line = outbox.take();
                    if (line == END) {
                        break;
                    }
                    queuedBytes.addAndGet(-line.length);
                    out.write(line);
                }
            } catch (IOException | InterruptedException e) {
                // the client went away, or the server is closing
            } finally {
                close();
            }
        }

        /** The client sent its last command: the writer sends what is queued, then closes the connection. */
        void finish() {
            enqueue(END);
        }

        void close() {
            gone = true;
            clients.remove(this);
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing
            }
            outbox.offer(END); // wakes the writer if it waits for a message; if the outbox is full, it is not
        }
    }
}
