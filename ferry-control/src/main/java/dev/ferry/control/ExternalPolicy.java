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
