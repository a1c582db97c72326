/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.guest.Guest;
import dev.ferry.guest.PauseHolds;
import dev.ferry.memory.Pages;
import dev.ferry.policy.Policies;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.precopy.DirtyRateMeasurement;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.IterationStats;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.stream.StreamFormat;
import dev.ferry.xbzrle.XbzrleCodec;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A running guest under control: its migration capabilities and parameters (QEMU's names, validated as a whole
 * set), at most one outgoing migration at a time (to a destination or a file), the pause-before-switchover gate,
 * dirty-rate measurement, and the policy decisions of people and programs. The command line drives it directly;
 * a control socket drives it through the QMP commands it {@link #register registers}, and receives its events.
 */
public final class GuestController {
    /** Opens the sink for a migration URI ({@code tcp:HOST:PORT}, {@code file:PATH}). */
    @FunctionalInterface
    public interface Targets {
        PageSink open(String uri, Map<String, Boolean> capabilities, MigrationParameters params) throws IOException;
    }

    /** A migration that ended. */
    public record Finished(PrecopyLoop.Outcome outcome, MigrationStats stats, String uri) {
    }

    public static final Duration COMPLETION_TIMEOUT = Duration.ofSeconds(60);
    /** The holders of the guest's pause this controller uses (see {@link PauseHolds}). */
    public static final String USER = "user";
    public static final String MIGRATION = "migration";
    private static final Set<String> CAPABILITIES = Set.of("xbzrle", "auto-converge", "pause-before-switchover",
            "mapped-ram", "events");

    private final PauseHolds holds;
    /** The guest itself, for its state; pausing and resuming go through a holder's view. */
    private final Guest guest;
    /** The guest as {@code stop} and {@code cont} pause and resume it. */
    private final Guest user;
    /** The guest as this controller's migrations pause and resume it. */
    private final Guest migration;
    private final Targets targets;
    private final MigrationParameters params;
    private final Map<String, Boolean> capabilities = new LinkedHashMap<>();
    private final LinkedBlockingQueue<Finished> finished = new LinkedBlockingQueue<>();
    private volatile QmpServer server;
    private volatile PrecopyPolicy policy;
    private volatile String policySpec;
    private volatile boolean directIo;
    private volatile Job job;
    private volatile MigrationStats lastStats;
    private volatile boolean migratedAway;
    /**
     * The last migration completed but the destination did not confirm the handover: the guest is kept paused here,
     * and {@code cont} may resume it (whoever sends it has checked that the destination did not start it).
     */
    private volatile boolean handoverUnconfirmed;
    private volatile PrecopyLoop.Listener listener = new PrecopyLoop.Listener() { };
    private volatile DirtyRate dirtyRate = new DirtyRate("unstarted", 0, null, null);

    private record Job(PrecopyLoop loop, MigrationStats stats, CompletableFuture<Boolean> gate) {
    }

    private record DirtyRate(String status, long startMillis, Duration calcTime, DirtyRateMeasurement result) {
    }

    /**
     * A controller of the running guest of {@code holds}: its {@code stop} and {@code cont} take and release the
     * "user" hold, its migrations the "migration" hold.
     */
    public GuestController(PauseHolds holds, Targets targets, MigrationParameters params, PrecopyPolicy policy,
            String policySpec) {
        this.holds = holds;
        this.guest = holds.guest();
        this.user = holds.holder(USER);
        this.migration = holds.holder(MIGRATION);
        this.targets = targets;
        this.params = params;
        this.policy = policy;
        this.policySpec = policySpec;
        for (String c : List.of("xbzrle", "auto-converge", "pause-before-switchover", "mapped-ram", "events")) {
            capabilities.put(c, c.equals("events"));
        }
        capabilities.put("auto-converge", params.autoConverge());
    }

    /** Also tells {@code l} (a progress display) of the migrations this controller runs. */
    public GuestController listener(PrecopyLoop.Listener l) {
        this.listener = l;
        return this;
    }

    public synchronized GuestController capability(String name, boolean on) {
        capabilities.put(name, on);
        return this;
    }

    public GuestController directIo(boolean on) {
        this.directIo = on;
        return this;
    }

    public boolean directIo() {
        return directIo;
    }

    public MigrationParameters parameters() {
        return params;
    }

    public synchronized Map<String, Boolean> capabilities() {
        return new LinkedHashMap<>(capabilities);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Migration

    /** Starts a migration to {@code uri} in the background; the result arrives at {@link #awaitFinished}. */
    public void migrate(String uri) throws QmpError {
        migrate(uri, false, capabilities());
    }

    /**
     * Saves a live snapshot to {@code file} and lets the guest run on afterwards (where {@code migrate file:} stops
     * it, as a migration does). {@code mappedRam} null means the capability's setting.
     */
    public void snapshot(String file, Boolean mappedRam) throws QmpError {
        Map<String, Boolean> caps = capabilities();
        if (mappedRam != null) {
            caps.put("mapped-ram", mappedRam);
            if (mappedRam && caps.get("xbzrle")) {
                throw QmpError.generic("Mapped-ram migration is incompatible with xbzrle");
            }
        }
        migrate("file:" + file, true, caps);
    }

    private synchronized void migrate(String uri, boolean keepRunning, Map<String, Boolean> caps) throws QmpError {
        if (job != null) {
            throw QmpError.generic("There's a migration process in progress");
        }
        if (migratedAway) {
            throw QmpError.generic("The guest has been migrated already: it runs elsewhere now");
        }
        if (!uri.startsWith("tcp:") && !uri.startsWith("file:")) {
            throw QmpError.generic("Invalid migration URI '" + uri + "': use tcp:HOST:PORT or file:PATH");
        }
        if (caps.get("mapped-ram") && !uri.startsWith("file:")) {
            throw QmpError.generic("mapped-ram migration needs a file: URI (a seekable target)");
        }
        MigrationStats stats = new MigrationStats(guest.ramSize(), Pages.SIZE);
        params.autoConverge(caps.get("auto-converge"));
        int streamCaps = caps.get("xbzrle") ? StreamFormat.CAP_XBZRLE : 0;
        CompletableFuture<Boolean> gate = caps.get("pause-before-switchover") ? new CompletableFuture<>() : null;
        PrecopyPolicy p = policy;
        emitStatus(Status.SETUP);
        PageSink sink;
        try {
            sink = targets.open(uri, caps, params);
        } catch (IOException | RuntimeException e) {
            String m = e.getMessage() != null ? e.getMessage() : e.toString();
            stats.error(m);
            stats.status(Status.FAILED);
            lastStats = stats;
            emitStatus(Status.FAILED);
            finished.add(new Finished(new PrecopyLoop.Outcome(Status.FAILED, m), stats, uri));
            throw QmpError.generic(m);
        }
        PrecopyLoop loop = new PrecopyLoop(migration, sink, p, params, stats, new Events(keepRunning), streamCaps,
                COMPLETION_TIMEOUT);
        if (keepRunning) {
            loop.switchover((g, s) -> {
                s.handover();
                return true; // a snapshot: the guest goes on here
            });
        }
        if (gate != null) {
            loop.preSwitchover(() -> {
                try {
                    return gate.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    return false;
                }
            });
        }
        job = new Job(loop, stats, gate);
        lastStats = stats;
        Thread.ofPlatform().name("migration " + uri).start(() -> {
            PrecopyLoop.Outcome o;
            try (sink) {
                o = loop.run();
            }
            synchronized (this) {
                job = null;
                if (o.completed() && !keepRunning) {
                    migratedAway = true;
                    handoverUnconfirmed = o.handoverUnconfirmed();
                }
            }
            // Only now, the target closed and the job gone: a client told the migration ended may start the next.
            emitStatus(o.status());
            finished.add(new Finished(o, stats, uri));
        });
    }

    /** The next migration to end, or null after {@code timeout}. */
    public Finished awaitFinished(Duration timeout) throws InterruptedException {
        return finished.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Cancels the running migration (the guest keeps running); nothing if none runs. */
    public synchronized void cancel(String reason) {
        Job j = job;
        if (j != null) {
            j.loop().requestAbort(reason);
            if (j.gate() != null) {
                j.gate().complete(false);
            }
            QmpServer q = server;
            if (q != null) {
                ExternalPolicy.release(q); // a controller's answer is not waited for
            }
        }
    }

    /** Whether a migration is running. */
    public boolean migrating() {
        return job != null;
    }

    /** True once a migration completed and handed the guest over. */
    public boolean migratedAway() {
        return migratedAway;
    }

    /** True while a completed migration's handover is unconfirmed and the guest is kept paused here. */
    public boolean handoverUnconfirmed() {
        return handoverUnconfirmed;
    }

    /** The running migration's statistics, else the last one's, else null. */
    public MigrationStats stats() {
        Job j = job;
        return j != null ? j.stats() : lastStats;
    }

    private void emitStatus(Status s) {
        QmpServer q = server;
        if (q != null) {
            q.emit("MIGRATION", Map.of("status", s.label));
        }
    }

    private final class Events implements PrecopyLoop.Listener {
        /** A snapshot's: the guest goes on here once it completes. */
        private final boolean keepRunning;

        Events(boolean keepRunning) {
            this.keepRunning = keepRunning;
        }

        @Override
        public void onIteration(IterationStats it) {
            QmpServer q = server;
            if (q != null) {
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("pass", it.iteration() + 1);
                q.emit("MIGRATION_PASS", data);
            }
            listener.onIteration(it);
        }

        @Override
        public void onStatus(Status s) {
            if (s == Status.COMPLETED && !keepRunning) {
                migratedAway = true; // handed over (a snapshot that keeps the guest running is not)
            }
            if (!s.terminal()) {
                emitStatus(s); // the end is told once the migration's thread has cleaned up
            }
            listener.onStatus(s);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // QMP

    /** Registers this controller's commands on {@code s}, which also receives its events. */
    public void register(QmpServer s) {
        this.server = s;
        s.register("query-status", a -> {
            Args.only(a, Set.of());
            Map<String, Object> m = new LinkedHashMap<>();
            Status st = job != null ? job.stats().status() : null;
            String status = migratedAway ? "postmigrate"
                    : st == Status.DEVICE || st == Status.PRE_SWITCHOVER ? "finish-migrate"
                    : guest.isPaused() ? "paused" : "running";
            m.put("running", !guest.isPaused());
            m.put("status", status);
            return m;
        });
        s.register("stop", a -> {
            Args.only(a, Set.of());
            if (migratedAway) {
                throw QmpError.generic("The guest has been migrated already: it runs elsewhere now");
            }
            boolean wasRunning = !guest.isPaused();
            // The user's hold: a migration or checkpoint that pauses and resumes the guest meanwhile leaves it stopped.
            user.pause();
            if (wasRunning) {
                s.emit("STOP", null);
            }
            return null;
        });
        s.register("cont", a -> {
            Args.only(a, Set.of());
            synchronized (this) {
                if (migratedAway && handoverUnconfirmed) {
                    // The operator checked: the destination did not take the guest over. It runs here again.
                    migratedAway = false;
                    handoverUnconfirmed = false;
                    holds.releaseAll();
                    s.emit("RESUME", null);
                    return null;
                }
            }
            if (migratedAway) {
                throw QmpError.generic("The guest has been migrated already: it runs elsewhere now");
            }
            boolean stopped = holds.heldBy(USER);
            // One step, so a switchover cannot begin between the check and the release. A checkpoint's pause, if
            // one holds the guest now, ends by itself.
            if (!holds.releaseUnlessHeldBy(USER, MIGRATION)) {
                throw QmpError.generic("The migration holds the guest paused for the switchover; use"
                        + " migrate-continue or migrate_cancel");
            }
            if (stopped) {
                s.emit("RESUME", null);
            }
            return null;
        });
        s.register("migrate", a -> {
            Args.only(a, Set.of("uri", "detach", "resume"));
            Args.bool(a, "detach"); // QEMU's, ignored: a migration always runs in the background
            if (Boolean.TRUE.equals(Args.bool(a, "resume"))) {
                throw QmpError.generic("Ferry cannot resume a paused postcopy migration: it has no postcopy");
            }
            migrate(Args.string(a, "uri", null));
            return null;
        });
        s.register("migrate_cancel", a -> {
            Args.only(a, Set.of());
            cancel("migration cancelled by the user");
            return null;
        });
        s.register("migrate-continue", a -> {
            Args.only(a, Set.of("state"));
            String state = Args.string(a, "state", null);
            Job j = job;
            String now = j == null ? "none" : j.stats().status().label;
            if (!state.equals("pre-switchover") || j == null || j.stats().status() != Status.PRE_SWITCHOVER) {
                throw QmpError.generic("Migration not in expected state: " + now);
            }
            j.gate().complete(true);
            return null;
        });
        s.register("x-ferry-switchover", a -> {
            Args.only(a, Set.of());
            Job j = job;
            if (j == null) {
                throw QmpError.generic("No migration is running");
            }
            j.loop().requestSwitchover();
            ExternalPolicy.release(s); // a controller's answer is not waited for
            return null;
        });
        s.register("query-migrate", a -> {
            Args.only(a, Set.of());
            MigrationStats st = stats();
            if (st == null) {
                return Map.of();
            }
            Map<String, Object> m = new LinkedHashMap<>(st.toMap());
            m.remove("timeline");
            return m;
        });
        s.register("query-migrate-capabilities", a -> {
            Args.only(a, Set.of());
            List<Map<String, Object>> l = new ArrayList<>();
            for (var e : capabilities().entrySet()) {
                l.add(Map.of("capability", e.getKey(), "state", e.getValue()));
            }
            return l;
        });
        s.register("migrate-set-capabilities", this::setCapabilities);
        s.register("query-migrate-parameters", a -> {
            Args.only(a, Set.of());
            return parametersMap();
        });
        s.register("migrate-set-parameters", this::setParameters);
        s.register("migrate-set-cache-size", a -> {
            Args.only(a, Set.of("value"));
            long v = Args.requiredInteger(a, "value", Pages.SIZE, 1L << 40);
            params.xbzrleCacheSize(v);
            return null;
        });
        s.register("x-ferry-save", a -> {
            Args.only(a, Set.of("file", "mapped-ram", "direct-io"));
            String file = Args.string(a, "file", null);
            Boolean direct = Args.bool(a, "direct-io");
            if (direct != null) {
                directIo = direct;
            }
            snapshot(file, Args.bool(a, "mapped-ram"));
            return null;
        });
        s.register("x-ferry-xbzrle-cache-resize", a -> {
            Args.only(a, Set.of("size"));
            params.xbzrleCacheSize(Args.requiredInteger(a, "size", Pages.SIZE, 1L << 40));
            return null;
        });
        s.register("calc-dirty-rate", this::calcDirtyRate);
        s.register("query-dirty-rate", a -> dirtyRateMap());
    }

    private synchronized Object setCapabilities(ObjectNode a) throws QmpError {
        Args.only(a, Set.of("capabilities"));
        JsonNode list = a.get("capabilities");
        if (list == null || !list.isArray()) {
            throw QmpError.generic("Invalid parameter type for 'capabilities', expected: array");
        }
        if (job != null) {
            throw QmpError.generic("There's a migration process in progress");
        }
        Map<String, Boolean> next = new LinkedHashMap<>(capabilities);
        for (JsonNode c : list) {
            if (!c.isObject() || !c.path("capability").isTextual() || !c.path("state").isBoolean()) {
                throw QmpError.generic("each capability must be {\"capability\": NAME, \"state\": BOOLEAN}");
            }
            String name = c.get("capability").asText();
            if (!CAPABILITIES.contains(name)) {
                throw QmpError.generic("Parameter 'capability' does not accept value '" + name + "'");
            }
            next.put(name, c.get("state").asBoolean());
        }
        if (next.get("mapped-ram") && next.get("xbzrle")) {
            throw QmpError.generic("Mapped-ram migration is incompatible with xbzrle");
        }
        capabilities.clear();
        capabilities.putAll(next);
        return null;
    }

    private Map<String, Object> parametersMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("downtime-limit", params.downtimeLimitMillis());
        m.put("max-bandwidth", params.maxBandwidth());
        m.put("xbzrle-cache-size", params.xbzrleCacheSize());
        m.put("throttle-trigger-threshold", params.throttleTriggerThreshold());
        m.put("cpu-throttle-initial", params.cpuThrottleInitial());
        m.put("cpu-throttle-increment", params.cpuThrottleIncrement());
        m.put("max-cpu-throttle", params.maxCpuThrottle());
        m.put("direct-io", directIo);
        m.put("policy", policySpec);
        return m;
    }

    /** Validates every parameter first and applies them together: a refused set changes nothing. */
    private synchronized Object setParameters(ObjectNode a) throws QmpError {
        Args.only(a, Set.of("downtime-limit", "max-bandwidth", "xbzrle-cache-size", "throttle-trigger-threshold",
                "cpu-throttle-initial", "cpu-throttle-increment", "max-cpu-throttle", "direct-io", "policy"));
        Long downtime = Args.integer(a, "downtime-limit", 0, MigrationParameters.MAX_DOWNTIME_LIMIT_MS);
        Long bandwidth = Args.integer(a, "max-bandwidth", 0, Long.MAX_VALUE);
        Long cache = Args.integer(a, "xbzrle-cache-size", Pages.SIZE, 1L << 40);
        Long trigger = Args.integer(a, "throttle-trigger-threshold", 1, 100);
        Long initial = Args.integer(a, "cpu-throttle-initial", 1, 99);
        Long increment = Args.integer(a, "cpu-throttle-increment", 1, 99);
        Long max = Args.integer(a, "max-cpu-throttle", 1, 99);
        Boolean direct = Args.bool(a, "direct-io");
        String spec = a.has("policy") ? Args.string(a, "policy", null) : null;
        PrecopyPolicy newPolicy = null;
        if (spec != null) {
            if (job != null) {
                throw QmpError.generic("The policy of a running migration cannot change: decide with"
                        + " x-ferry-switchover or migrate_cancel, or change downtime-limit and max-bandwidth");
            }
            try {
                newPolicy = Policies.parse(spec);
            } catch (IllegalArgumentException e) {
                throw QmpError.generic("Parameter 'policy': " + e.getMessage());
            }
        }
        if (direct != null && direct && job != null) {
            throw QmpError.generic("There's a migration process in progress");
        }
        int t = trigger != null ? trigger.intValue() : params.throttleTriggerThreshold();
        int i = initial != null ? initial.intValue() : params.cpuThrottleInitial();
        int inc = increment != null ? increment.intValue() : params.cpuThrottleIncrement();
        int m = max != null ? max.intValue() : params.maxCpuThrottle();
        if (i > m) {
            throw QmpError.generic("cpu-throttle-initial (" + i + ") must not exceed max-cpu-throttle (" + m + ")");
        }
        // All checked: apply.
        if (downtime != null) {
            params.downtimeLimitMillis(downtime);
        }
        if (bandwidth != null) {
            params.maxBandwidth(bandwidth);
        }
        if (cache != null) {
            params.xbzrleCacheSize(cache);
        }
        params.throttle(t, i, inc, m);
        if (direct != null) {
            directIo = direct;
        }
        if (newPolicy != null) {
            policy = newPolicy;
            policySpec = spec;
        }
        return null;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Dirty rate

    private synchronized Object calcDirtyRate(ObjectNode a) throws QmpError {
        Args.only(a, Set.of("calc-time", "sample-pages", "mode"));
        long seconds = Args.requiredInteger(a, "calc-time", 1, 60);
        if (job != null) {
            throw QmpError.generic("There's a migration process in progress");
        }
        if ("measuring".equals(dirtyRate.status())) {
            throw QmpError.generic("A dirty-rate measurement is in progress");
        }
        Duration period = Duration.ofSeconds(seconds);
        dirtyRate = new DirtyRate("measuring", System.currentTimeMillis(), period, null);
        Thread.ofPlatform().name("dirty-rate").start(() -> {
            try {
                DirtyRateMeasurement m = measureDirtyRate(guest, period);
                dirtyRate = new DirtyRate("measured", dirtyRate.startMillis(), period, m);
            } catch (InterruptedException e) {
                dirtyRate = new DirtyRate("unstarted", 0, null, null);
            }
        });
        return null;
    }

    /** Measures {@code guest}'s dirty rate, sampling XBZRLE's cost with Ferry's codec. */
    public static DirtyRateMeasurement measureDirtyRate(Guest guest, Duration period) throws InterruptedException {
        XbzrleCodec codec = new XbzrleCodec();
        MemorySegment delta = java.lang.foreign.Arena.ofAuto().allocate(Pages.SIZE);
        return DirtyRateMeasurement.measure(guest, period,
                (old, now) -> codec.encode(old, 0, now, 0, Pages.SIZE, delta, 0, Pages.SIZE));
    }

    /** What a measurement predicts at the current parameters (unlimited bandwidth is taken as 1 GB/s). */
    public Map<String, Object> dirtyRateMap() {
        DirtyRate d = dirtyRate;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", d.status());
        if (d.startMillis() > 0) {
            m.put("start-time", d.startMillis() / 1000);
        }
        if (d.result() != null) {
            m.putAll(d.result().toMap());
            m.put("prediction", predictions(d.result(), params));
        }
        return m;
    }

    /** Predictions for a migration at {@code p}'s bandwidth and downtime limit, with and without XBZRLE. */
    public static Map<String, Object> predictions(DirtyRateMeasurement r, MigrationParameters p) {
        double bw = p.maxBandwidth() > 0 ? p.maxBandwidth() : 1e9;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bandwidth", Math.round(bw));
        m.put("downtime-limit", p.downtimeLimitMillis());
        m.put("without-xbzrle", r.predict(bw, p.downtimeLimitMillis(), false).toMap());
        m.put("with-xbzrle", r.predict(bw, p.downtimeLimitMillis(), true).toMap());
        return m;
    }
}
