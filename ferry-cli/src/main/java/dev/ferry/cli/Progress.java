/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.IterationStats;
import dev.ferry.stats.MigrationStats;
import dev.ferry.stats.MigrationStats.Status;
import dev.ferry.util.Units;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Shows a migration's progress: on a terminal a progress bar (me.tongfei's progressbar) of the share of the bytes
 * sent so far over those sent plus those still to send, with the round, bandwidth and expected downtime beside it,
 * redrawn four times a second; otherwise one line per round, which reads well in logs. Follows whatever migration
 * {@code stats} supplies, from its first active moment to its end.
 */
final class Progress implements PrecopyLoop.Listener, AutoCloseable {
    private final Supplier<MigrationStats> stats;
    private final PrintStream out;
    private final boolean terminal;
    private Thread ticker;
    private volatile boolean done;

    Progress(Supplier<MigrationStats> stats, PrintStream out) {
        this.stats = stats;
        this.out = out;
        this.terminal = System.console() != null && System.console().isTerminal();
    }

    Progress(MigrationStats stats, PrintStream out) {
        this(() -> stats, out);
    }

    private void tick() {
        try (me.tongfei.progressbar.ProgressBar bar = new me.tongfei.progressbar.ProgressBarBuilder()
                .setTaskName("migrating").setInitialMax(100).setUpdateIntervalMillis(250).continuousUpdate()
                .setStyle(me.tongfei.progressbar.ProgressBarStyle.ASCII)
                .setConsumer(new me.tongfei.progressbar.InteractiveConsoleProgressBarConsumer(out))
                .hideEta().build()) {
            while (!done) {
                MigrationStats s = stats.get();
                if (s != null) {
                    long sent = s.transferred();
                    long left = s.remaining();
                    bar.stepTo(sent + left == 0 ? 0 : Math.min(100, sent * 100 / (sent + left)));
                    bar.setExtraMessage(line());
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private String line() {
        MigrationStats s = stats.get();
        if (s == null) {
            return "";
        }
        double bw = s.bandwidth();
        int throttle = s.throttle();
        return String.format(Locale.ROOT, "%s round %d, sent %s, remaining %s, %s/s, expected downtime %s%s",
                s.status().label, s.iterations().size() + 1, Units.bytes(s.transferred()), Units.bytes(s.remaining()),
                bw < 0 ? "?" : Units.bytes((long) bw),
                s.expectedDowntimeMillis() < 0 ? "?" : s.expectedDowntimeMillis() + " ms",
                throttle > 0 ? "  throttle " + throttle + "%" : "");
    }

    @Override
    public synchronized void onStatus(Status status) {
        if (terminal && status == Status.ACTIVE && ticker == null) {
            done = false;
            ticker = Thread.ofPlatform().daemon().name("progress").start(this::tick);
        }
        if (status.terminal()) {
            stopTicker();
        }
    }

    @Override
    public void onIteration(IterationStats it) {
        if (!terminal) {
            out.printf(Locale.ROOT, "round %d (%s): %d dirty pages, sent %d pages (%d zero), %s in %.0f ms -> %s%n",
                    it.iteration(), it.phase(), it.dirtyPages(), it.pagesSent(), it.zeroPages(),
                    Units.bytes(it.bytesSent()), it.durationMillis(), it.decision());
        }
    }

    private synchronized void stopTicker() {
        done = true;
        if (ticker != null) {
            ticker.interrupt();
            try {
                ticker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ticker = null;
            out.println(line());
            out.flush();
        }
    }

    @Override
    public void close() {
        stopTicker();
    }
}
