/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestCheck;
import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** How incoming, restore and standby end: the running guest runs its time, stops, and (with --verify) is checked. */
final class GuestRun {
    private GuestRun() {
    }

    /** Longer than a device's own retries (30 s), so that its verdict, not this wait, decides. */
    private static final long BIND_WAIT_SECONDS = 60;

    /**
     * For a guest whose workload serves clients, once resumed: waits until its port listens (the device retries
     * while a previous owner, the source of a migration or a primary, may still hold it). Null once it listens, or
     * if the guest has no such device; otherwise why not, naming the address.
     */
    static String awaitPort(Guest guest) throws InterruptedException {
        if (!(guest instanceof dev.ferry.guest.inprocess.InProcessGuest g) || g.netDevice() == null) {
            return null;
        }
        dev.ferry.guest.inprocess.device.NetDevice device = g.netDevice();
        if (device.awaitBound(BIND_WAIT_SECONDS, TimeUnit.SECONDS) || device.stopped() && device.bindError() == null) {
            return null; // listening, or the guest was closed before it could
        }
        String why = device.bindError();
        return why != null ? why : "the guest's port " + device.port() + " is still not listening after "
                + BIND_WAIT_SECONDS + " s";
    }

    /**
     * {@link #awaitPort}; for a guest whose port cannot be opened, prints one line naming the address to {@code err}
     * ({@code ferry COMMAND: ...}), stops the guest and records the reason as {@code device-error} in {@code report}.
     * True if the guest serves its clients (or has none to serve).
     */
    static boolean portOpens(Guest guest, String command, PrintStream err, Map<String, Object> report)
            throws InterruptedException {
        String cannot = awaitPort(guest);
        if (cannot == null) {
            return true;
        }
        err.println("ferry " + command + ": " + cannot + "; the guest cannot serve its clients and is stopped");
        guest.pause();
        report.put("device-error", cannot);
        return false;
    }

    /**
     * Lets {@code guest} (already resumed) run for {@code runFor}, or until {@code interrupted} when it is null;
     * pauses it; records its counters as {@code workload-at-exit} and, with {@code verify}, its memory check as
     * {@code verify} in {@code report}. Returns {@link Main#OK}, or {@link Main#CHECK_FAILED} if the check failed.
     */
    static int runThenCheck(Guest guest, Duration runFor, CountDownLatch interrupted, boolean verify,
            Map<String, Object> report, PrintStream out) {
        try {
            if (runFor == null) {
                interrupted.await();
            } else {
                interrupted.await(runFor.toNanos(), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        guest.pause();
        report.put("workload-at-exit", guest.counters());
        out.println("guest ran: " + guest.counters());
        if (!verify) {
            return Main.OK;
        }
        GuestCheck check = guest.check();
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("passed", check.passed());
        v.put("detail", check.detail());
        report.put("verify", v);
        out.println("verify: " + (check.passed() ? "PASS " : "FAIL ") + check.detail());
        return check.passed() ? Main.OK : Main.CHECK_FAILED;
    }
}
