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
 * carrying the statistics snapshot; the first {@code x-ferry-policy-decide} with that request's id answers it. With
 * no answer within the deadline, or no controller connected, the fallback policy decides.
 *
 * <p>By default a controller is consulted once per round, before its first batch (with the round's fresh dirty
 * count), and precopy continues in between; {@code every=batch} consults before and after every batch, which
 * slows the migration by a round trip per batch.
 */
public final class ExternalPolicy implements PrecopyPolicy {
    private final QmpServer server;
    private final PrecopyPolicy fallback;
    private final Duration deadline;
    private final boolean everyBatch;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, CompletableFuture<Decision>> pending = new ConcurrentHashMap<>();
    private int lastIteration = -1;
    private volatile long answered;
    private volatile long fellBack;

    /** The policy the command x-ferry-policy-decide answers (the last one made). */
    private static final java.util.concurrent.atomic.AtomicReference<ExternalPolicy> CURRENT =
            new java.util.concurrent.atomic.AtomicReference<>();

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
            if (!every.equals("round") && !every.equals("batch")) {
                throw new IllegalArgumentException("policy 'external': every must be round or batch");
            }
            ExternalPolicy p = new ExternalPolicy(server, dev.ferry.policy.Policies.parse(fallback.replace(';', ',')),
                    deadline, every.equals("batch"));
            CURRENT.set(p);
            return p;
        });
        server.register("x-ferry-policy-decide", a -> {
            Args.only(a, java.util.Set.of("id", "decision"));
            long id = Args.integer(a, "id", 1, Long.MAX_VALUE);
            String d = Args.string(a, "decision", null);
            Decision decision = switch (d) {
                case "continue" -> Decision.CONTINUE_PRECOPY;
                case "stop-and-copy" -> Decision.STOP_AND_COPY;
                case "abort" -> Decision.ABORT;
                default -> throw QmpError.generic("decision must be continue, stop-and-copy or abort, not '" + d
                        + "'");
            };
            ExternalPolicy p = CURRENT.get();
            if (p == null) {
                throw QmpError.generic("no migration uses the external policy");
            }
            p.answer(id, decision);
            return null;
        });
    }

    public ExternalPolicy(QmpServer server, PrecopyPolicy fallback, Duration deadline, boolean everyBatch) {
        this.server = server;
        this.fallback = fallback;
        this.deadline = deadline;
        this.everyBatch = everyBatch;
    }

    @Override
    public Decision decide(PrecopyStats s) {
        boolean roundStart = s.moment() == PrecopyStats.Moment.BEFORE_BATCH && s.iteration() != lastIteration;
        if (!everyBatch && !roundStart) {
            return Decision.CONTINUE_PRECOPY;
        }
        lastIteration = s.iteration();
        if (server.negotiatedClients() == 0) {
            fellBack++;
            return fallback.decide(s);
        }
        long id = ids.incrementAndGet();
        CompletableFuture<Decision> answer = new CompletableFuture<>();
        pending.put(id, answer);
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
        server.emit("FERRY_POLICY_REQUEST", data);
        try {
            Decision d = answer.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
            answered++;
            return d;
        } catch (TimeoutException | ExecutionException e) {
            fellBack++;
            return fallback.decide(s);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fallback.decide(s);
        } finally {
            pending.remove(id);
        }
    }

    /** Answers request {@code id}; the command {@code x-ferry-policy-decide}. */
    void answer(long id, Decision d) throws QmpError {
        CompletableFuture<Decision> f = pending.get(id);
        if (f == null) {
            throw QmpError.generic("no policy request " + id + " is waiting (answered, timed out, or unknown)");
        }
        f.complete(d);
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
