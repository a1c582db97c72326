/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.IterationStats;
import dev.ferry.stats.MigrationStats;
import dev.ferry.util.Units;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Shows a migration's progress: on a terminal a status line redrawn four times a second; otherwise one line per
 * round, which reads well in logs.
 */
final class Progress implements PrecopyLoop.Listener, AutoCloseable {
    private final MigrationStats stats;
    private final PrintStream out;
    private final boolean terminal;
    private final Thread ticker;
    private volatile boolean done;

    Progress(MigrationStats stats, PrintStream out) {
        this.stats = stats;
        this.out = out;
        this.terminal = System.console() != null && System.console().isTerminal();
        this.ticker = terminal ? Thread.ofPlatform().daemon().name("progress").start(this::tick) : null;
    }

    private void tick() {
        while (!done) {
            out.print("\r" + line() + "\u001b[K");
            out.flush();
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private String line() {
        var m = stats.toMap();
        double bw = stats.bandwidth();
        return String.format(Locale.ROOT, "%-9s round %d  sent %s  remaining %s  %s/s  expected downtime %s",
                m.get("status"), stats.iterations().size() + 1, Units.bytes(stats.transferred()),
                Units.bytes(stats.remaining()), bw < 0 ? "?" : Units.bytes((long) bw),
                stats.expectedDowntimeMillis() < 0 ? "?" : stats.expectedDowntimeMillis() + " ms");
    }

    @Override
    public void onIteration(IterationStats it) {
        if (!terminal) {
            out.printf(Locale.ROOT, "round %d (%s): %d dirty pages, sent %d pages (%d zero), %s in %.0f ms -> %s%n",
                    it.iteration(), it.phase(), it.dirtyPages(), it.pagesSent(), it.zeroPages(),
                    Units.bytes(it.bytesSent()), it.durationMillis(), it.decision());
        }
    }

    @Override
    public void close() {
        done = true;
        if (ticker != null) {
            ticker.interrupt();
            try {
                ticker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            out.print("\r" + line() + "\u001b[K\n");
            out.flush();
        }
    }
}
