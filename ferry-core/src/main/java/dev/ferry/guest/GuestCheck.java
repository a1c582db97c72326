/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

/**
 * The outcome of a guest's check of its own memory invariant (for the in-process guest, the workload's check).
 *
 * @param passed whether the invariant holds
 * @param detail what was checked, or the first violation found
 */
public record GuestCheck(boolean passed, String detail) {
    public static GuestCheck pass(String detail) {
        return new GuestCheck(true, detail);
    }

    public static GuestCheck fail(String detail) {
        return new GuestCheck(false, detail);
    }
}
