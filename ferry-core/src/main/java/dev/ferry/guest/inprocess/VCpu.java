/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.guest.inprocess.workload.VCpuProgram;
import java.util.concurrent.locks.LockSupport;

/**
 * A vCPU: a platform thread that runs its program slice by slice and, between slices, stops at a safepoint when
 * asked to pause. Pausing waits for at most one slice.
 */
final class VCpu implements Runnable {
    private final int index;
    private final VCpuProgram program;
    private final VCpuMemory memory;
    /** Stores per second this vCPU may make, or 0 for no limit. */
    private final double rate;
    private final Thread thread;

    private volatile boolean pauseRequested = true;
    private volatile boolean paused = true;
    private volatile boolean stopRequested;
    private volatile Thread waiter;

    VCpu(int index, VCpuProgram program, VCpuMemory memory, double rate) {
        this.index = index;
        this.program = program;
        this.memory = memory;
        this.rate = rate;
        this.thread = Thread.ofPlatform().name("vcpu-" + index).daemon().unstarted(this);
    }

    VCpuProgram program() {
        return program;
    }

    /** Lets the vCPU run (starting its thread the first time). */
    void resume() {
        pauseRequested = false;
        if (thread.getState() == Thread.State.NEW) {
            thread.start();
        } else {
            LockSupport.unpark(thread);
        }
    }

    /** Asks the vCPU to stop at its next safepoint; {@link #awaitPaused} waits for it. */
    void requestPause() {
        pauseRequested = true;
        LockSupport.unpark(thread);
    }

    void awaitPaused() {
        if (thread.getState() == Thread.State.NEW) {
            return;
        }
        waiter = Thread.currentThread();
        // A slice lasts microseconds: spin briefly before parking.
        for (int spins = 0; !paused; spins++) {
            if (spins < 2000) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 50_000);
            }
        }
        waiter = null;
    }

    void stop() {
        stopRequested = true;
        pauseRequested = true;
        LockSupport.unpark(thread);
        if (thread.getState() != Thread.State.NEW) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void run() {
        long epoch = System.nanoTime();
        long writesAtEpoch = memory.writes();
        paused = false;
        while (true) {
            if (pauseRequested) {
                paused = true;
                Thread w = waiter;
                if (w != null) {
                    LockSupport.unpark(w);
                }
                while (pauseRequested && !stopRequested) {
                    LockSupport.park(this);
                }
                if (stopRequested) {
                    return;
                }
                paused = false;
                // Paused time is not owed to the rate limiter: no burst after a resume.
                epoch = System.nanoTime();
                writesAtEpoch = memory.writes();
            }
            program.step(memory);
            if (rate > 0) {
                long done = memory.writes() - writesAtEpoch;
                double due = (System.nanoTime() - epoch) * 1e-9 * rate;
                double ahead = done - due;
                if (ahead > 0) {
                    LockSupport.parkNanos(this, (long) (ahead / rate * 1e9));
                }
            }
        }
    }

    @Override
    public String toString() {
        return "vcpu-" + index;
    }
}
