/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who holds a running guest paused. The user's {@code stop}, a migration's switchover, a checkpoint and a RAM dump
 * each pause the guest for their own reason; the guest runs again only once none of them holds it. So one cannot undo
 * another's pause: a {@code cont} that arrives while a switchover copies the guest's last pages leaves it paused (it
 * used to resume it between the switchover's status check and its pause, and the guest then ran on here while its
 * copy started elsewhere), and a migration that fails no longer resumes a guest the user had stopped.
 *
 * <p>Each holder works through {@link #holder its view} of the guest, a {@link Guest} whose {@code pause} takes that
 * holder's hold and whose {@code resume} releases it; everything else is the guest's own. The guest must be running
 * (or started) when the first hold is taken: releasing the last hold resumes it.
 */
public final class PauseHolds {
    private final Guest guest;
    private final Set<String> holders = new LinkedHashSet<>();

    public PauseHolds(Guest guest) {
        this.guest = guest;
    }

    /** The guest itself. */
    public Guest guest() {
        return guest;
    }

    /** The guest as {@code name} sees it: its pause and resume take and release {@code name}'s hold. */
    public Guest holder(String name) {
        return new View(name);
    }

    /** Whether {@code name} holds the guest paused. */
    public synchronized boolean heldBy(String name) {
        return holders.contains(name);
    }

    /** Who holds the guest paused, in the order they took their holds. */
    public synchronized Set<String> holders() {
        return Set.copyOf(holders);
    }

    /**
     * Releases {@code name}'s hold unless {@code other} holds the guest, in one step, so that {@code other} cannot
     * take its hold between a check and the release. False, and nothing changed, if {@code other} holds it.
     */
    public synchronized boolean releaseUnlessHeldBy(String name, String other) {
        if (holders.contains(other)) {
            return false;
        }
        release(name);
        return true;
    }

    /**
     * Drops every hold and resumes the guest: for an operator who has checked that nothing else runs it (an
     * unconfirmed handover's migration holds the guest for good otherwise).
     */
    public synchronized void releaseAll() {
        holders.clear();
        guest.resume();
    }

    private synchronized void hold(String name) {
        holders.add(name);
        guest.pause(); // idempotent: pauses a running guest, or keeps a paused one paused
    }

    private synchronized void release(String name) {
        if (holders.remove(name) && holders.isEmpty()) {
            guest.resume();
        }
    }

    /** The guest with one holder's pause and resume; every other method is the guest's. */
    private final class View implements Guest {
        private final String name;

        View(String name) {
            this.name = name;
        }

        @Override
        public void pause() {
            hold(name);
        }

        @Override
        public void resume() {
            release(name);
        }

        @Override
        public boolean isPaused() {
            return guest.isPaused();
        }

        @Override
        public GuestDescriptor descriptor() {
            return guest.descriptor();
        }

        @Override
        public List<RamBlock> ramBlocks() {
            return guest.ramBlocks();
        }

        @Override
        public DirtyLog dirtyLog() {
            return guest.dirtyLog();
        }

        @Override
        public byte[] saveState() {
            return guest.saveState();
        }

        @Override
        public void loadState(byte[] state) throws GuestException {
            guest.loadState(state);
        }

        @Override
        public GuestCheck check() {
            return guest.check();
        }

        @Override
        public Map<String, Object> counters() {
            return guest.counters();
        }

        @Override
        public void close() {
            guest.close();
        }

        @Override
        public boolean throttle(int percent) {
            return guest.throttle(percent);
        }

        @Override
        public Optional<OutputGate> output() {
            return guest.output();
        }

        @Override
        public long ramSize() {
            return guest.ramSize();
        }

        @Override
        public long ramPages() {
            return guest.ramPages();
        }

        @Override
        public String toString() {
            return guest + " (as " + name + ")";
        }
    }
}
