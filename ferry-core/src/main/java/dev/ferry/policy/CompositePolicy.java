/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.policy;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Several policies consulted together; the most severe answer wins (abort over stop-and-copy over continue). Every
 * member sees every snapshot, so stateful members stay consistent.
 */
public record CompositePolicy(List<PrecopyPolicy> members) implements PrecopyPolicy {
    public CompositePolicy {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a composite policy needs at least one member");
        }
        members = List.copyOf(members);
    }

    @Override
    public Decision decide(PrecopyStats s) {
        Decision d = Decision.CONTINUE_PRECOPY;
        for (PrecopyPolicy p : members) {
            d = Decision.mostSevere(d, p.decide(s));
        }
        return d;
    }

    @Override
    public String describe() {
        return members.stream().map(PrecopyPolicy::describe).collect(Collectors.joining(" + "));
    }
}
