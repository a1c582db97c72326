/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import dev.ferry.policy.Decision;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.policy.PrecopyStats;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A precopy policy that lives in another process (seed 002: "can live in another address space"): each
 * consultation is sent to the controllers connected to the control socket as a {@code FERRY_POLICY_REQUEST} event
 * carrying the statistics snapshot; the first {@code x-ferry-policy-decide} with that request's id answers it (a
 * second answer, a late one or one with an id never asked is refused by name). With no answer within the deadline,
 * no controller connected, or the last one gone while it waits, the fallback policy decides. Request ids are those
 * of the control socket, unique for its whole life, so an answer meant for an earlier migration never answers a
 * later one. A person's {@code migrate_cancel} or {@code x-ferry-switchover} stops the wait at once.
 *
 * <p>By default a controller is consulted once per round, before its first batch (with the round's fresh dirty
 * count), and precopy continues in between; {@code every=batch} consults before and after every batch, which
 * slows the migration by a round trip per batch.
 */
public final class ExternalPolicy implements PrecopyPolicy {
    /** How often a wait for an answer checks that a controller is still connected. */
    private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** A request's outcome when no controller answers it: the fallback decides. */
    private static final Object FALL_BACK = new Object();
    /** A request's outcome when a person decided on the socket: the loop applies that at once. */
    private static final Object RELEASED = new Object();

    /** The requests of one control socket: their ids, and those that wait for an answer. */
    private static final class Requests {
        final AtomicLong ids = new AtomicLong();
        final Map<Long, CompletableFuture<Object>> pending = new ConcurrentHashMap<>();
    }

    /** Per control socket (a process has one; a test may have several). */
    private static final Map<QmpServer, Requests> REQUESTS =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    private final QmpServer server;
    private final Requests requests;
    private final PrecopyPolicy fallback;
    private final Duration deadline;
    private final boolean everyBatch;
    private int lastIteration = -1;
    private long lastElapsed = Long.MAX_VALUE;
    private volatile long answered;
    private volatile long fellBack;

    /**
     * Makes {@code --policy external[,deadline=1s][,every=round|batch][,fallback=SPEC]} mean a controller on
     * {@code server}, and registers {@code x-ferry-policy-decide {id, decision}} there. Call before parsing
     * policies. In the fallback spec, write ';' for ',' (it is itself an option value).
     */
    public static void install(QmpServer server) {
        dev.ferry.policy.Policies.register("external", o -> {
            Duration deadline = o.duration("deadline", Duration.ofSeconds(1));
            String every = o.string("every", "round");
            String fallback = o.string("fallback", "downtime");
            o.requireAllUsed("deadline, every, fallback");
            if (deadline.toMillis() < 1) {
                throw new IllegalArgumentException("policy 'external': deadline must be at least 1ms, not "
                        + deadline.toNanos() + "ns");
            }
            if (!every.equals("round") && !every.equals("batch")) {
                throw new IllegalArgumentException("policy 'external': every must be round or batch");
            }
            return new ExternalPolicy(server, dev.ferry.policy.Policies.parse(fallback.replace(';', ',')),
                    deadline, every.equals("batch"));
        });
        Requests requests = requests(server);
        server.register("x-ferry-policy-decide", a -> {
            Args.only(a, java.util.Set.of("id", "decision"));
            long id = Args.requiredInteger(a, "id", 1, Long.MAX_VALUE);
            String d = Args.string(a, "decision", null);
            Decision decision = switch (d) {
                case "continue" -> Decision.CONTINUE_PRECOPY;
                case "stop-and-copy" -> Decision.STOP_AND_COPY;
                case "abort" -> Decision.ABORT;
                default -> throw QmpError.generic("Parameter 'decision': must be continue, stop-and-copy or abort,"
                        + " not '" + d + "'");
            };
            CompletableFuture<Object> f = requests.pending.get(id);
            if (f == null || !f.complete(decision)) {
                long last = requests.ids.get();
                throw QmpError.generic(id > last ? "no policy request " + id + " was made (the last one is " + last
                        + ")" : "policy request " + id + " is not waiting: it was answered already, or its"
                        + " deadline passed and the fallback decided");
            }
            return null;
        });
    }

    private static Requests requests(QmpServer server) {
        synchronized (REQUESTS) {
            return REQUESTS.computeIfAbsent(server, s -> new Requests());
        }
    }

    /**
     * Ends every wait for a controller's answer on {@code server}: a person decided on the socket (cancel,
     * switchover), and the migration applies it at once rather than after the deadline.
     */
    public static void release(QmpServer server) {
        Requests r = REQUESTS.get(server);
        if (r != null) {
            for (CompletableFuture<Object> f : r.pending.values()) {
                f.complete(RELEASED);
            }
        }
    }

    public ExternalPolicy(QmpServer server, PrecopyPolicy fallback, Duration deadline, boolean everyBatch) {
        this.server = server;
        this.requests = requests(server);
        this.fallback = fallback;
        this.deadline = deadline;
        this.everyBatch = everyBatch;
    }

    @Override
    public Decision decide(PrecopyStats s) {
        // A new round; or a new migration (the same policy serves every migration of a process).
        boolean roundStart = s.moment() == PrecopyStats.Moment.BEFORE_BATCH
                && (s.iteration() != lastIteration || s.elapsedMillis() < lastElapsed);
        lastElapsed = s.elapsedMillis();
        if (!everyBatch && !roundStart) {
            return Decision.CONTINUE_PRECOPY;
        }
        lastIteration = s.iteration();
        if (server.negotiatedClients() == 0) {
            fellBack++;
            return fallback.decide(s);
        }
        long id = requests.ids.incrementAndGet();
        CompletableFuture<Object> answer = new CompletableFuture<>();
        requests.pending.put(id, answer);
        try {
            server.emit("FERRY_POLICY_REQUEST", request(id, s));
            long end = System.nanoTime() + deadline.toNanos();
            Object d = null;
            while (d == null) {
                long left = end - System.nanoTime();
                if (left <= 0 || server.negotiatedClients() == 0) {
                    answer.complete(FALL_BACK); // unless an answer came just now
                    d = answer.join();
                } else {
                    try {
                        d = answer.get(Math.min(left, CHECK_NANOS), TimeUnit.NANOSECONDS);
                    } catch (TimeoutException e) {
                        // still waiting
                    } catch (ExecutionException e) {
                        d = FALL_BACK;
                    }
                }
            }
            if (d instanceof Decision decision) {
                answered++;
                return decision;
            }
            if (d == RELEASED) {
                return Decision.CONTINUE_PRECOPY; // the loop applies the person's decision before this one
            }
            fellBack++;
            return fallback.decide(s);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer.complete(FALL_BACK);
            fellBack++;
            return fallback.decide(s);
        } finally {
            requests.pending.remove(id);
        }
    }

    private Map<String, Object> request(long id, PrecopyStats s) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("id", id);
        data.put("moment", s.moment() == PrecopyStats.Moment.BEFORE_BATCH ? "before-batch" : "after-batch");
        data.put("iteration", s.iteration());
        data.put("total-written", s.totalWritten());
        data.put("dirty-count", s.dirtyCount());
        data.put("elapsed-ms", s.elapsedMillis());
        data.put("bandwidth", Math.round(s.bandwidth()));
        data.put("expected-downtime", s.expectedDowntimeMillis());
        data.put("bytes-remaining", s.bytesRemaining());
        data.put("downtime-limit", s.downtimeLimitMillis());
        data.put("deadline-ms", deadline.toMillis());
        return data;
    }

    @Override
    public String describe() {
        return "external(deadline=" + deadline.toMillis() + "ms, every=" + (everyBatch ? "batch" : "round")
                + ", fallback=" + fallback.describe() + ")";
    }

    public long answered() {
        return answered;
    }

    public long fellBack() {
        return fellBack;
    }
}
