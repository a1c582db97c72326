/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.precopy.PageSink;
import dev.ferry.stream.PageBatch;
import dev.ferry.stream.PageKind;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Saves a guest to a mapped-ram file ({@link MappedRamFormat}): each NORMAL page is written at its slot with a
 * positional write and its bit set; a ZERO page is never written and its bit is cleared (a page re-dirtied to zero
 * clears it); a page sent again in a later round overwrites its slot. The file therefore never grows beyond the
 * guest's RAM plus metadata, however long a live save runs, and the holes of zero pages take no disk space.
 *
 * <p>Two background threads: a gatherer takes the loop's batches and turns contiguous slots (across batches, up to
 * {@link #STAGING_BYTES}) into runs; an I/O thread writes each run with one {@code pwrite}, either straight from guest
 * memory (when the sink was given the guest's RAM blocks: no copy at all) or from an aligned staging buffer the
 * gatherer copied the loop's copies into. With {@link #STAGING_BUFFERS} runs in flight, scanning, gathering and
 * writing overlap, and writes reach the disk in large pieces. Runs are written in the order they were made, so a slot
 * written again in a later round is never overtaken by its older copy. With {@code directIo} the page area is written
 * with {@code O_DIRECT}: guest memory is page aligned, staging buffers are aligned to the file system's block size, and
 * every slot offset is a multiple of 4096 inside page areas aligned to 1 MiB.
 *
 * <p>The file is written as {@code FILE.partial} and becomes {@code FILE} only at {@link #complete}: bitmaps and
 * execution state written, fsync, footer written last, fsync, atomic rename, fsync of the directory
 * ({@link SaveTarget}). Refusals (a target that cannot seek, xbzrle or any other capability, a file system without
 * O_DIRECT) happen before any byte is written.
 */
public final class MappedRamSink implements PageSink {
    /** Largest single write: contiguous slots are gathered up to this many bytes. */
    static final int STAGING_BYTES = 8 << 20;
    /** Staging buffers: one being filled, the others queued for or in the I/O thread. */
    static final int STAGING_BUFFERS = 3;
    private static final int BATCHES = 4;
    private static final Object SYNC = new Object();

    private final SaveTarget target;
    private final boolean directIo;
    private final ArrayBlockingQueue<PageBatch> free = new ArrayBlockingQueue<>(BATCHES);
    private final ArrayBlockingQueue<Object> queue = new ArrayBlockingQueue<>(BATCHES + 4);
    private MappedRamLayout layout;
    private Bitmap[] present;
    private FileChannel channel;
    private FileChannel pageChannel;
    private final ArrayBlockingQueue<Staging> freeStaging = new ArrayBlockingQueue<>(STAGING_BUFFERS);
    /** Filled staging buffers, and latches that mark a point every buffer before which is written. */
    private final ArrayBlockingQueue<Object> ioQueue = new ArrayBlockingQueue<>(STAGING_BUFFERS + 4);
    /** The buffer the gatherer fills (gatherer thread only). */
    private Staging current;
    private byte[] executionState;
    private Thread writer;
    private Thread io;

    /**
     * A run of contiguous slots, {@code length} bytes for file offsets from {@code start}: either gathered in an
     * aligned buffer (copy mode) or, when the sink writes straight from guest memory, the pages of block
     * {@code block} from memory offset {@code memoryOffset}.
     */
    private static final class Staging {
        final ByteBuffer buffer;
        final MemorySegment segment;
        long start;
        int length;
        int block;
        long memoryOffset;

        Staging(int align, boolean gather) {
            buffer = gather ? ByteBuffer.allocateDirect(STAGING_BYTES + align).alignedSlice(align) : null;
            segment = gather ? MemorySegment.ofBuffer(buffer) : null;
        }
    }

    /** Guest memory by block index when the sink writes from it (no gathering copy), else null. */
    private final MemorySegment[] memory;
    private volatile IOException failure;
    private volatile long bytesWritten;
    private volatile boolean closing;
    private boolean committed;

    /**
     * A sink that writes the pages the loop copied into its batches, gathered into aligned buffers.
     *
     * @param file where the snapshot goes; checked now: a target that cannot seek is refused
     * @param directIo write the page area with O_DIRECT
     */
    public MappedRamSink(Path file, boolean directIo) throws IOException {
        this(file, directIo, null);
    }

    /**
     * A sink that writes runs of pages straight from the guest's memory, saving a copy of every page (half the memory
     * traffic). That is exact because every page is written after the loop read and hashed it, buffers are written in
     * order, and a guest write after the loop's read makes the page dirty, so the page is sent, and written, again;
     * in the final round the guest is paused. The digest in the footer therefore matches the file. {@code ram} must
     * be the blocks of the guest being saved ({@link dev.ferry.guest.Guest#ramBlocks()}), which must outlive the sink.
     */
    public MappedRamSink(Path file, boolean directIo, List<RamBlock> ram) throws IOException {
        this.target = SaveTarget.of(file, true);
        this.directIo = directIo;
        this.memory = ram == null ? null : ram.stream().map(RamBlock::memory).toArray(MemorySegment[]::new);
        for (int i = 0; i < BATCHES; i++) {
            free.add(new PageBatch());
        }
    }

    /** The file the snapshot is written to until it is complete. */
    public Path partialFile() {
        return target.partial();
    }

    public Path file() {
        return target.target();
    }

    @Override
    public int open(Records.Setup setup, int capabilities) throws IOException {
        if ((capabilities & StreamFormat.CAP_XBZRLE) != 0) {
            throw new SaveTarget.RefusedException("mapped-ram cannot be combined with xbzrle: every page is stored"
                    + " whole in its slot, there is no previous copy to encode a delta against");
        }
        if (capabilities != 0) {
            throw new SaveTarget.RefusedException("mapped-ram cannot be combined with capabilities 0x"
                    + Integer.toHexString(capabilities) + " (mapped-ram stores whole pages only: no compression,"
                    + " multifd or postcopy)");
        }
        try {
            layout = MappedRamLayout.of(setup);
        } catch (IllegalArgumentException e) {
            throw new SaveTarget.RefusedException(e.getMessage());
        }
        target.checkUnchanged();
        channel = target.openForWriting();
        try {
            int align = Pages.SIZE;
            if (directIo) {
                pageChannel = target.openDirect();
                align = SaveTarget.directAlignment(target.partial().getParent());
            } else {
                pageChannel = channel;
            }
            if (memory != null) {
                checkMemory(setup);
            }
            for (int i = 0; i < STAGING_BUFFERS; i++) {
                freeStaging.add(new Staging(align, memory == null));
            }
            present = new Bitmap[layout.blocks().size()];
            for (MappedRamLayout.Block b : layout.blocks()) {
                present[b.index()] = new Bitmap(b.pages());
            }
            // The prologue (header, block table, descriptor) first, so that a partial file says what it is.
            ByteBuffer prologue = layout.metadata(null).limit(layout.prologueLength());
            writeFully(channel, prologue, 0);
        } catch (IOException | RuntimeException e) {
            closeChannels();
            target.discard();
            throw e;
        }
        io = Thread.ofPlatform().daemon().name("mapped-ram-io").start(this::ioLoop);
        writer = Thread.ofPlatform().daemon().name("mapped-ram-gatherer").start(this::writeLoop);
        return 0;
    }

    private void checkMemory(Records.Setup setup) {
        if (memory.length != setup.blocks().size()) {
            throw new IllegalArgumentException("the sink was given " + memory.length + " RAM blocks, the guest has "
                    + setup.blocks().size());
        }
        for (int i = 0; i < memory.length; i++) {
            if (memory[i].byteSize() != setup.blocks().get(i).length()
                    || (directIo && memory[i].address() % Pages.SIZE != 0)) {
                throw new IllegalArgumentException("RAM block " + i + " given to the sink does not match the guest's");
            }
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                Object item = queue.poll(50, TimeUnit.MILLISECONDS);
                if (item == null) {
                    if (closing) {
                        return;
                    }
                    submitCurrent(); // the loop is slow (rate limit) or idle: do not hold pages back
                    continue;
                }
                switch (item) {
                    case PageBatch b -> {
                        apply(b);
                        free.put(b);
                    }
                    case CountDownLatch flushed -> {
                        drain();
                        flushed.countDown();
                    }
                    default -> {
                        // SYNC: make the round durable now, so that completion has little left to flush
                        drain();
                        check();
                        channel.force(false);
                    }
                }
            }
        } catch (IOException e) {
            fail(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            fail(new IOException("mapped-ram writer failed: " + e, e));
        }
    }

    /** Records the batch's pages: slots to write (gathered in staging buffers), bits to set and clear. */
    private void apply(PageBatch b) throws IOException, InterruptedException {
        MappedRamLayout.Block block = layout.blocks().get(b.block());
        Bitmap bits = present[b.block()];
        MemorySegment data = b.segment();
        int n = b.count();
        for (int i = 0; i < n; i++) {
            long page = b.page(i);
            PageKind kind = b.kind(i);
            if (kind == PageKind.ZERO) {
                bits.clear(page);
                continue;
            }
            if (kind != PageKind.NORMAL) {
                throw new IllegalStateException("mapped-ram got a " + kind + " page record");
            }
            bits.set(page);
            long at = block.slot(page);
            Staging c = current;
            if (c != null && (at != c.start + c.length || c.length == STAGING_BYTES || c.block != b.block())) {
                submitCurrent();
                c = null;
            }
            if (c == null) {
                c = takeStaging();
                c.start = at;
                c.length = 0;
                c.block = b.block();
                c.memoryOffset = page << Pages.SHIFT;
                current = c;
            }
            if (c.segment != null) {
                MemorySegment.copy(data, b.dataOffset(i), c.segment, c.length, Pages.SIZE);
            }
            c.length += Pages.SIZE;
        }
    }

    private Staging takeStaging() throws IOException, InterruptedException {
        while (true) {
            check();
            Staging s = freeStaging.poll(100, TimeUnit.MILLISECONDS);
            if (s != null) {
                return s;
            }
        }
    }

    /** Hands the buffer being filled to the I/O thread. */
    private void submitCurrent() throws InterruptedException {
        Staging c = current;
        if (c != null) {
            current = null;
            if (c.length == 0) {
                freeStaging.put(c);
            } else {
                ioQueue.put(c);
            }
        }
    }

    /** Waits until every slot gathered so far is written. */
    private void drain() throws IOException, InterruptedException {
        submitCurrent();
        CountDownLatch written = new CountDownLatch(1);
        ioQueue.put(written);
        while (!written.await(100, TimeUnit.MILLISECONDS)) {
            check();
        }
    }

    /** The I/O thread: writes staging buffers in order; after a failure, only returns them. */
    private void ioLoop() {
        try {
            while (true) {
                Object item = ioQueue.poll(50, TimeUnit.MILLISECONDS);
                if (item == null) {
                    if (closing) {
                        return;
                    }
                    continue;
                }
                if (item instanceof Staging s) {
                    try {
                        if (failure == null) {
                            ByteBuffer src = s.buffer != null ? s.buffer.clear().limit(s.length)
                                    : memory[s.block].asSlice(s.memoryOffset, s.length).asByteBuffer();
                            writeFully(pageChannel, src, s.start);
                        }
                    } catch (IOException e) {
                        fail(e);
                    } finally {
                        freeStaging.put(s);
                    }
                } else if (item instanceof CountDownLatch written) {
                    written.countDown();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long at = position;
        try {
            while (b.hasRemaining()) {
                at += ch.write(b, at);
            }
        } catch (IOException e) {
            String m = e.getMessage() != null ? e.getMessage() : e.toString();
            throw new IOException("cannot write " + target.partial() + " at byte " + at + ": " + m, e);
        }
        bytesWritten += at - position;
    }

    private synchronized void fail(IOException e) {
        if (failure == null) {
            failure = e;
        }
    }

    private void check() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw f;
        }
    }

    private void enqueue(Object item) throws IOException {
        try {
            while (!queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
                check();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    @Override
    public PageBatch takeBatch() throws IOException {
        try {
            while (true) {
                check();
                PageBatch b = free.poll(100, TimeUnit.MILLISECONDS);
                if (b != null) {
                    return b;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /** Queues the batch for the writer; returns the bytes it will write (zero pages cost nothing). */
    @Override
    public long submit(PageBatch batch) throws IOException {
        check();
        long bytes = (long) batch.normalPages() * Pages.SIZE;
        enqueue(batch);
        return bytes;
    }

    /**
     * Asks the writer to make the round durable in the background (an fdatasync), so that completion, which happens
     * while the guest is paused, has little left to flush. Not with O_DIRECT (the data is not in the page cache), and
     * not after the execution state (the final round: completion syncs at once). Costs no bytes.
     */
    @Override
    public long endOfRound(int iteration, long pages) throws IOException {
        check();
        if (!directIo && executionState == null) {
            enqueue(SYNC);
        }
        return 0;
    }

    @Override
    public long executionState(byte[] state) throws IOException {
        if (state.length > MappedRamFormat.MAX_EXEC_STATE) {
            throw new IOException("execution state of " + state.length + " bytes exceeds the mapped-ram limit of "
                    + MappedRamFormat.MAX_EXEC_STATE);
        }
        executionState = state.clone();
        return state.length;
    }

    /** Waits until every queued batch is in the file. */
    private void flush() throws IOException {
        CountDownLatch done = new CountDownLatch(1);
        enqueue(done);
        try {
            while (!done.await(100, TimeUnit.MILLISECONDS)) {
                check();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        check();
    }

    /**
     * Completes the file: every page written, bitmaps and execution state written, fsync, the footer (with the
     * metadata CRC and the RAM digest) written last, fsync, renamed over the target, directory fsynced. No return
     * path: the timeout is not used.
     */
    @Override
    public void complete(long pageRecords, int ramDigest, Duration timeout) throws IOException {
        if (executionState == null) {
            throw new IOException("mapped-ram save completed without execution state");
        }
        flush();
        stopWriter(false);
        ByteBuffer metadata = layout.metadata(present);
        writeFully(channel, metadata.duplicate().clear(), 0);
        long execOffset = layout.pageAreasEnd();
        writeFully(channel, ByteBuffer.wrap(executionState), execOffset);
        channel.force(true);
        CRC32C crc = new CRC32C();
        crc.update(metadata.duplicate().clear());
        crc.update(executionState);
        long presentPages = 0;
        for (Bitmap b : present) {
            presentPages += b.cardinality();
        }
        ByteBuffer footer = MappedRamFormat.encodeFooter(execOffset, executionState.length, ramDigest, presentPages,
                System.currentTimeMillis(), (int) crc.getValue());
        writeFully(channel, footer, execOffset + executionState.length);
        if (pageChannel != channel) {
            pageChannel.close();
        }
        target.commit(channel); // fsync (the footer), rename, fsync of the directory
        committed = true;
        closeChannels();
    }

    /** A file has no one to hand the guest to: nothing to do. */
    @Override
    public void handover() {
    }

    /** Abandons the save: the partial file is deleted; a snapshot already at the target is left as it was. */
    @Override
    public void abort(String reason) {
        stopWriter(true);
        closeChannels();
        if (!committed) {
            target.discard();
        }
    }

    @Override
    public long bytesWritten() {
        return bytesWritten;
    }

    /** Pages whose slot holds data, per block (after {@link #complete}, what the file's bitmaps say). */
    public long pagesPresent() {
        long n = 0;
        if (present != null) {
            for (Bitmap b : present) {
                n += b.cardinality();
            }
        }
        return n;
    }

    /**
     * Stops the gatherer and I/O threads. Without {@code interrupt} they finish what they are doing (an interrupt
     * would close the channel under a write in progress); with it, a write in progress is abandoned.
     */
    private void stopWriter(boolean interrupt) {
        closing = true;
        for (Thread t : new Thread[] {writer, io}) {
            if (t != null) {
                if (interrupt) {
                    t.interrupt();
                }
                try {
                    t.join(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        writer = null;
        io = null;
    }

    private void closeChannels() {
        for (FileChannel c : new FileChannel[] {pageChannel, channel}) {
            if (c != null) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // closing after a failure
                }
            }
        }
    }

    @Override
    public void close() {
        stopWriter(true);
        closeChannels();
        if (!committed && channel != null) {
            target.discard();
        }
    }
}
