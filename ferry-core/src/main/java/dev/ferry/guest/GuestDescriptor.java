/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a destination needs to create an empty guest of the same shape as the source's, before any page
 * arrives: the backend that runs it and that backend's configuration as string properties. It travels in the
 * stream's setup record and in snapshot files.
 */
public record GuestDescriptor(String backend, Map<String, String> properties) {
    public GuestDescriptor {
        Objects.requireNonNull(backend, "backend");
        properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
    }

    public String property(String key) {
        String v = properties.get(key);
        if (v == null) {
            throw new IllegalArgumentException("guest descriptor for backend '" + backend + "' lacks property '"
                    + key + "'");
        }
        return v;
    }
}
