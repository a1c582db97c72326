/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

/** Page geometry shared by every guest backend: Ferry migrates 4 KiB pages. */
public final class Pages {
    public static final int SHIFT = 12;
    public static final int SIZE = 1 << SHIFT;

    private Pages() {
    }
}
