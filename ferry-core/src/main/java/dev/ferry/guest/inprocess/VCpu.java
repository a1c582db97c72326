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
    /** Percent of the time to sleep (auto-converge), 0 to 99. */
    private volatile int throttle;
    /**
     * A throttled vCPU runs in slices of this length, each followed by its nap. QEMU uses 10 ms; longer slices mean
     * longer naps (at 99%, 50 ms of running then about 5 s asleep), during which a precopy round can complete
     * without the guest dirtying anything: a guest that sweeps its memory faster than it can be sent converges only
     * that way.
     */
    static final long THROTTLE_SLICE_NANOS = 50_000_000L;

    VCpu(int index, VCpuProgram program, VCpuMemory memory, double rate) {
        this.index = index;
        this.program = program;
        this.memory = memory;
        this.rate = rate;
        this.thread = Thread.ofPlatform().name("vcpu-" + index).daemon().unstarted(this);
    }

    void throttle(int percent) {
        this.throttle = percent;
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
        long sliceStart = System.nanoTime();
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
                sliceStart = epoch;
                writesAtEpoch = memory.writes();
            }
            program.step(memory);
            int t = throttle;
            long now = System.nanoTime();
            if (t > 0 && now - sliceStart >= THROTTLE_SLICE_NANOS) {
                // Throttled: after each slice of running, sleep t / (100 - t) of it (t% of the time asleep).
                long nap = (now - sliceStart) * t / (100 - t);
                long wake = now + nap;
                while (!pauseRequested && (now = System.nanoTime()) < wake) {
                    LockSupport.parkNanos(this, wake - now);
                }
                sliceStart = System.nanoTime();
            } else if (t == 0) {
                sliceStart = now;
            }
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
