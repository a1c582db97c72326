/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.guest.DirtyLog;
import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestCheck;
import dev.ferry.guest.GuestDescriptor;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import dev.ferry.guest.inprocess.workload.StateReader;
import dev.ferry.guest.inprocess.workload.StateWriter;
import dev.ferry.guest.inprocess.workload.Workload;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.DirtyBitmap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The default guest: RAM in anonymous off-heap memory and a workload on N vCPU threads, all inside this JVM.
 * Each vCPU marks the pages it writes in a dirty bitmap of its own; a sync drains them all.
 */
public final class InProcessGuest implements Guest {
    public static final String BACKEND = "inprocess";
    private static final int STATE_MAGIC = 0x46495047; // "FIPG"
    private static final int STATE_VERSION = 1;

    private final InProcessConfig config;
    private final GuestRam ram;
    private final Workload workload;
    private final VCpu[] vcpus;
    /**
     * bitmaps[vcpu][block], each vCPU's array shared with its {@link VCpuMemory}. The bitmaps themselves are made when
     * the guest first runs ({@link #resume}): a destination creates its guest from a SETUP record that nothing has
     * verified yet, and only a guest that runs writes (a paused one has nothing dirty).
     */
    private final DirtyBitmap[][] bitmaps;
    /** {@link #bitmaps} once they exist, else null: what the dirty log reads. */
    private volatile DirtyBitmap[][] dirty;
    private final DirtyLog dirtyLog = new Log();
    /** Scratch words for {@link DirtyLog#peek}, one array per block (only the migration thread peeks). */
    private long[][] peekScratch;
    private boolean paused = true;
    private boolean started;
    private boolean closed;

    private InProcessGuest(InProcessConfig config) {
        this.config = config;
        this.ram = new GuestRam(config.blockSizes());
        try {
            this.workload = Workload.create(config.workload(), ram, config.vcpus(), config.seed());
        } catch (RuntimeException e) {
            ram.close();
            throw e;
        }
        int blocks = ram.blocks().size();
        this.bitmaps = new DirtyBitmap[config.vcpus()][blocks];
        this.vcpus = new VCpu[config.vcpus()];
        double perVcpuRate = config.rate() / (double) config.vcpus();
        for (int v = 0; v < vcpus.length; v++) {
            vcpus[v] = new VCpu(v, workload.program(v), new VCpuMemory(ram, bitmaps[v]), perVcpuRate);
        }
    }

    /** Makes the dirty bitmaps before the vCPUs first run (they mark every write from their first one). */
    private void allocateDirtyBitmaps() {
        int blocks = ram.blocks().size();
        long[][] scratch = new long[blocks][];
        for (int b = 0; b < blocks; b++) {
            long pages = ram.blocks().get(b).pages();
            scratch[b] = new long[(int) ((pages + 63) >>> 6)];
            for (DirtyBitmap[] perVcpu : bitmaps) {
                perVcpu[b] = new DirtyBitmap(pages);
            }
        }
        peekScratch = scratch;
        dirty = bitmaps; // published (volatile) after the bitmaps and the scratch are complete
    }

    /**
     * A new, paused guest with zeroed RAM.
     *
     * @throws IllegalArgumentException when the configuration is impossible (the message says why)
     */
    public static InProcessGuest create(InProcessConfig config) {
        return new InProcessGuest(config);
    }

    public InProcessConfig config() {
        return config;
    }

    public String workloadName() {
        return workload.name();
    }

    @Override
    public GuestDescriptor descriptor() {
        return config.toDescriptor();
    }

    @Override
    public List<RamBlock> ramBlocks() {
        return ram.blocks();
    }

    @Override
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    @Override
    public synchronized void resume() {
        if (closed) {
            throw new IllegalStateException("guest is closed");
        }
        if (!paused) {
            return;
        }
        if (dirty == null) {
            allocateDirtyBitmaps(); // before the vCPU threads start: Thread.start publishes them
        }
        started = true;
        paused = false;
        if (workload.device() != null) {
            workload.device().start();
        }
        for (VCpu v : vcpus) {
            v.resume();
        }
    }

    @Override
    public synchronized void pause() {
        if (paused) {
            return;
        }
        for (VCpu v : vcpus) {
            v.requestPause();
        }
        for (VCpu v : vcpus) {
            v.awaitPaused();
        }
        paused = true;
    }

    @Override
    public synchronized boolean isPaused() {
        return paused;
    }

    @Override
    public synchronized byte[] saveState() {
        requirePaused("save execution state");
        StateWriter out = new StateWriter();
        out.putInt(STATE_MAGIC).putInt(STATE_VERSION).putString(workload.name()).putInt(vcpus.length);
        for (VCpu v : vcpus) {
            StateWriter program = new StateWriter();
            v.program().save(program);
            out.putBytes(program.toByteArray());
        }
        return out.toByteArray();
    }

    @Override
    public synchronized void loadState(byte[] state) throws GuestException {
        requirePaused("load execution state");
        if (started) {
            throw new GuestException("execution state can only be loaded into a guest that has not run");
        }
        StateReader in = new StateReader(state);
        int magic = in.getInt("magic");
        if (magic != STATE_MAGIC) {
            throw new GuestException("execution state is not an in-process guest's (magic 0x"
                    + Integer.toHexString(magic) + ")");
        }
        int version = in.getInt("version");
        if (version != STATE_VERSION) {
            throw new GuestException("execution state version " + version + " is not supported (this Ferry reads "
                    + STATE_VERSION + ")");
        }
        String name = in.getString("workload name", 64);
        if (!name.equals(workload.name())) {
            throw new GuestException("execution state is for workload '" + name + "', this guest runs '"
                    + workload.name() + "'");
        }
        int n = in.getInt("vCPU count");
        if (n != vcpus.length) {
            throw new GuestException("execution state has " + n + " vCPUs, this guest " + vcpus.length);
        }
        for (VCpu v : vcpus) {
            StateReader program = new StateReader(in.getBytes("vCPU state", 1 << 20));
            v.program().load(program);
            program.expectEnd();
        }
        in.expectEnd();
    }

    @Override
    public boolean throttle(int percent) {
        if (percent < 0 || percent > 99) {
            throw new IllegalArgumentException("throttle must be between 0 and 99 percent: " + percent);
        }
        for (VCpu v : vcpus) {
            v.throttle(percent);
        }
        return true;
    }

    @Override
    public java.util.Optional<dev.ferry.guest.OutputGate> output() {
        return java.util.Optional.ofNullable(workload.device());
    }

    /** The network device of a workload that serves clients, or null. */
    public dev.ferry.guest.inprocess.device.NetDevice netDevice() {
        return workload.device();
    }

    @Override
    public synchronized GuestCheck check() {
        requirePaused("check memory");
        return workload.check();
    }

    @Override
    public Map<String, Object> counters() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("workload", workload.name());
        c.putAll(workload.counters());
        return c;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (workload.device() != null) {
            workload.device().close();
        }
        for (VCpu v : vcpus) {
            v.stop();
        }
        paused = true;
        ram.close();
    }

    private void requirePaused(String what) {
        if (!paused) {
            throw new IllegalStateException("cannot " + what + " while the guest runs");
        }
    }

    private final class Log implements DirtyLog {
        @Override
        public void start() {
            DirtyBitmap[][] dirty = InProcessGuest.this.dirty;
            if (dirty == null) {
                return; // the guest has never run: nothing is dirty
            }
            for (DirtyBitmap[] perVcpu : dirty) {
                for (DirtyBitmap d : perVcpu) {
                    d.clear();
                }
            }
        }

        @Override
        public long sync(int block, Bitmap into) {
            DirtyBitmap[][] dirty = InProcessGuest.this.dirty;
            if (dirty == null) {
                return 0;
            }
            long added = 0;
            for (DirtyBitmap[] perVcpu : dirty) {
                added += perVcpu[block].drainInto(into);
            }
            return added;
        }

        @Override
        public long peek(int block, Bitmap exclude) {
            DirtyBitmap[][] dirty = InProcessGuest.this.dirty;
            if (dirty == null) {
                return 0;
            }
            long[] acc = peekScratch[block];
            java.util.Arrays.fill(acc, 0L);
            for (DirtyBitmap[] perVcpu : dirty) {
                perVcpu[block].peekInto(acc);
            }
            long[] ex = exclude.words();
            long n = 0;
            for (int w = 0; w < acc.length; w++) {
                n += Long.bitCount(acc[w] & ~ex[w]);
            }
            return n;
        }

        @Override
        public void stop() {
            // Marking is always on (it costs one plain store per write); nothing to switch off.
        }
    }
}
