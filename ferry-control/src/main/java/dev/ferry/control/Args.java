/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;

/**
 * Reading command arguments with QMP's error messages: a wrong type or an unknown member is refused. Public for the
 * commands registered outside this package (replication).
 */
public final class Args {
    private Args() {
    }

    public static void only(ObjectNode a, Set<String> allowed) throws QmpError {
        for (var it = a.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw QmpError.generic("Parameter '" + f + "' is unexpected");
            }
        }
    }

    public static String string(ObjectNode a, String name, String fallback) throws QmpError {
        JsonNode v = a.get(name);
        if (v == null) {
            if (fallback == null) {
                throw QmpError.generic("Parameter '" + name + "' is missing");
            }
            return fallback;
        }
        if (!v.isTextual()) {
            throw QmpError.generic("Invalid parameter type for '" + name + "', expected: string");
        }
        return v.asText();
    }

    public static Boolean bool(ObjectNode a, String name) throws QmpError {
        JsonNode v = a.get(name);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            throw QmpError.generic("Invalid parameter type for '" + name + "', expected: boolean");
        }
        return v.asBoolean();
    }

    /** An integer in [min, max], or null when absent. */
    public static Long integer(ObjectNode a, String name, long min, long max) throws QmpError {
        JsonNode v = a.get(name);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw QmpError.generic("Invalid parameter type for '" + name + "', expected: integer");
        }
        long n = v.asLong();
        if (n < min || n > max) {
            throw QmpError.generic("Parameter '" + name + "' expects a value between " + min + " and " + max);
        }
        return n;
    }

    /** An integer in [min, max] that must be given. */
    public static long requiredInteger(ObjectNode a, String name, long min, long max) throws QmpError {
        Long n = integer(a, name, min, max);
        if (n == null) {
            throw QmpError.generic("Parameter '" + name + "' is missing");
        }
        return n;
    }
}
