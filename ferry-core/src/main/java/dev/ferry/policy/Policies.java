/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

import dev.ferry.util.Options;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds policies from command-line specs.
 *
 * <pre>
 *   xen[,dirty-threshold=50][,max-iterations=5]
 *   downtime[,limit=300ms]
 *   timeout,after=10s[,action=abort|force]
 *   com.example.MyPolicy[,key=value...]      your own class (see {@link PrecopyPolicy})
 * </pre>
 * Any of them also takes {@code timeout=DURATION[,on-timeout=abort|force]}, which composes it with a timeout
 * policy; several specs joined by {@code +} (or several {@code --policy} options) compose too.
 */
public final class Policies {
    public static final String HELP = "xen, downtime, timeout, or a class name; options: "
            + "xen: dirty-threshold, max-iterations; downtime: limit; timeout: after, action; "
            + "any: timeout=DURATION, on-timeout=abort|force";

    /** Policies other modules add by name (the control socket's {@code external}). */
    private static final Map<String, java.util.function.Function<Options, PrecopyPolicy>> EXTENSIONS =
            new java.util.concurrent.ConcurrentHashMap<>();

    private Policies() {
    }

    /** Makes {@code name} parse with {@code factory}, which must read (and check) all of its options. */
    public static void register(String name, java.util.function.Function<Options, PrecopyPolicy> factory) {
        EXTENSIONS.put(name, factory);
    }

    /** The default policy: stop and copy when the expected downtime fits the downtime limit. */
    public static PrecopyPolicy defaultPolicy() {
        return new DowntimePolicy();
    }

    /** Parses one or more specs; {@code +} inside a spec also composes. */
    public static PrecopyPolicy parse(List<String> specs) {
        List<PrecopyPolicy> members = new ArrayList<>();
        for (String spec : specs) {
            for (String part : spec.split("\\+")) {
                members.add(parseOne(part.trim()));
            }
        }
        if (members.isEmpty()) {
            return defaultPolicy();
        }
        return members.size() == 1 ? members.get(0) : new CompositePolicy(members);
    }

    public static PrecopyPolicy parse(String spec) {
        return parse(List.of(spec));
    }

    private static PrecopyPolicy parseOne(String spec) {
        Options o = Options.parse(spec);
        Duration timeout = null;
        Decision onTimeout = Decision.ABORT;
        if (!o.name().equals("timeout")) {
            timeout = o.duration("timeout", null);
            onTimeout = action(o, "on-timeout");
            if (timeout == null && o.has("on-timeout")) {
                throw new IllegalArgumentException("policy '" + o.name() + "': on-timeout needs timeout=DURATION");
            }
        }
        PrecopyPolicy p = switch (o.name()) {
            case "xen" -> {
                var x = new XenPolicy(o.integer("dirty-threshold", XenPolicy.DEFAULT_DIRTY_THRESHOLD),
                        (int) o.integer("max-iterations", XenPolicy.DEFAULT_MAX_ITERATIONS));
                o.requireAllUsed("dirty-threshold, max-iterations, timeout, on-timeout");
                yield x;
            }
            case "downtime" -> {
                Duration limit = o.duration("limit", null);
                o.requireAllUsed("limit, timeout, on-timeout");
                yield new DowntimePolicy(limit == null ? DowntimePolicy.FROM_PARAMETERS : limit.toMillis());
            }
            case "timeout" -> {
                Duration after = o.duration("after", null);
                if (after == null) {
                    throw new IllegalArgumentException("policy 'timeout' needs after=DURATION");
                }
                Decision action = action(o, "action");
                o.requireAllUsed("after, action");
                yield new TimeoutPolicy(after, action);
            }
            default -> {
                var extension = EXTENSIONS.get(o.name());
                if (extension != null) {
                    yield extension.apply(o);
                }
                if (!o.name().contains(".")) {
                    throw new IllegalArgumentException("unknown policy '" + o.name() + "' (known: xen, downtime,"
                            + " timeout, or a fully qualified class name)");
                }
                yield custom(o);
            }
        };
        return timeout == null ? p : new CompositePolicy(List.of(p, new TimeoutPolicy(timeout, onTimeout)));
    }

    private static Decision action(Options o, String key) {
        String a = o.string(key, "abort");
        return switch (a) {
            case "abort" -> Decision.ABORT;
            case "force", "stop-and-copy" -> Decision.STOP_AND_COPY;
            default -> throw new IllegalArgumentException("policy '" + o.name() + "': " + key
                    + " must be abort or force, not '" + a + "'");
        };
    }

    private static PrecopyPolicy custom(Options o) {
        Class<?> type;
        try {
            type = Class.forName(o.name());
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("policy class " + o.name() + " not found (put its jar on"
                    + " FERRY_CLASSPATH)");
        }
        if (!PrecopyPolicy.class.isAssignableFrom(type)) {
            throw new IllegalArgumentException("class " + o.name() + " does not implement "
                    + PrecopyPolicy.class.getName());
        }
        Map<String, String> options = o.values();
        try {
            try {
                Constructor<?> c = type.getConstructor(Map.class);
                return (PrecopyPolicy) c.newInstance(options);
            } catch (NoSuchMethodException e) {
                if (!options.isEmpty()) {
                    throw new IllegalArgumentException("policy class " + o.name()
                            + " takes no options (it has no constructor taking a Map)");
                }
                return (PrecopyPolicy) type.getConstructor().newInstance();
            }
        } catch (NoSuchMethodException | InstantiationException | IllegalAccessException e) {
            throw new IllegalArgumentException("cannot create policy " + o.name() + ": it needs a public"
                    + " constructor taking Map<String, String> or none");
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException("policy " + o.name() + " refused its options: "
                    + e.getCause().getMessage());
        }
    }
}
