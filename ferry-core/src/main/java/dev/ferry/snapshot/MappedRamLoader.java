/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import com.sun.nio.file.ExtendedOpenOption;
import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestBackend;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.PageDigest;
import dev.ferry.memory.Pages;
import dev.ferry.snapshot.SnapshotFormatException.Problem;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;

/**
 * Restores a guest from a mapped-ram file: checks the header, the footer and the metadata CRC first
 * ({@link MappedRamFile}), creates the guest from its descriptor through {@link GuestBackend}, reads only the pages
 * whose bits are set, straight into guest memory in runs of up to {@link #CHUNK_PAGES} contiguous pages, on
 * {@link #THREADS} threads, computing each page's CRC32C as it arrives; then checks the RAM digest and loads the
 * execution state. Only then is the (paused) guest returned; on any failure it is closed and nothing runs.
 *
 * <p>Pages whose bits are clear are never read: fresh guest memory is zero. With {@code directIo} the page areas are
 * read with {@code O_DIRECT} (guest memory is page aligned, and so are the file offsets), bypassing the page cache.
 */
public final class MappedRamLoader {
    /** Largest single read: 8 MiB. */
    static final int CHUNK_PAGES = 2048;
    /** Readers in parallel: two requests in flight keep a disk busy, and two cores hash what arrived. */
    static final int THREADS = 2;

    private final Path file;
    private final boolean directIo;
    private final RestoreStats stats;

    public MappedRamLoader(Path file, boolean directIo, RestoreStats stats) {
        this.file = file;
        this.directIo = directIo;
        this.stats = stats;
    }

    /** Loads the file; returns a paused guest, verified, ready to resume. */
    public Guest load() throws IOException, GuestException {
        String name = "snapshot " + file;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedRamFile f = MappedRamFile.read(ch, name, true);
            requireFits(f, name);
            stats.format = "mapped-ram";
            stats.fileSize = f.fileSize();
            stats.directIo = directIo;
            Guest guest = GuestBackend.createGuest(f.descriptor());
            try {
                List<RamBlock> ram = guest.ramBlocks();
                checkShape(f, ram, name);
                stats.ramSize = guest.ramSize();
                try (FileChannel pages = directIo ? openDirect() : null;
                        PageDigest digest = new PageDigest(ram.stream().mapToLong(RamBlock::pages).toArray())) {
                    readPages(f, ram, pages != null ? pages : ch, digest);
                    int mine = digest.digest();
                    if (mine != f.ramDigest()) {
                        throw new SnapshotFormatException(Problem.DIGEST_MISMATCH, -1, name + ": RAM digest mismatch:"
                                + " the save recorded 0x" + Integer.toHexString(f.ramDigest()) + ", the pages read"
                                + " hash to 0x" + Integer.toHexString(mine) + " (page data damaged)");
                    }
                }
                guest.loadState(f.executionState());
                stats.loaded();
                return guest;
            } catch (IOException | GuestException | RuntimeException e) {
                guest.close();
                throw e;
            }
        }
    }

    /**
     * Refuses a guest larger than this machine's RAM before it is mapped, as the destination of a migration does: a
     * sparse file may hold the block table of a terabyte guest in a few megabytes. Returns the guest RAM it declares.
     */
    static long requireFits(MappedRamFile f, String name) throws SnapshotFormatException {
        long declared = 0;
        for (MappedRamFile.Block b : f.blocks()) {
            declared += b.length(); // at most 1024 blocks of at most 1 TiB: no overflow
        }
        String tooMuch = dev.ferry.memory.MachineMemory.excess(declared);
        if (tooMuch != null) {
            throw new SnapshotFormatException(Problem.IMPOSSIBLE_SIZE, MappedRamFormat.HEADER_SIZE, name
                    + ": its block table declares " + tooMuch);
        }
        return declared;
    }

    private FileChannel openDirect() throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        } catch (FileSystemException | UnsupportedOperationException e) {
            throw SaveTarget.directRefused(file.toAbsolutePath(), e, "restore");
        }
    }

    private static void checkShape(MappedRamFile f, List<RamBlock> ram, String name) throws SnapshotFormatException {
        List<MappedRamFile.Block> blocks = f.blocks();
        if (blocks.size() != ram.size()) {
            throw new SnapshotFormatException(Problem.MALFORMED, MappedRamFormat.HEADER_BLOCK_COUNT, name + ": the"
                    + " block table lists " + blocks.size() + " RAM blocks, but the guest it describes has "
                    + ram.size());
        }
        for (int i = 0; i < blocks.size(); i++) {
            MappedRamFile.Block b = blocks.get(i);
            RamBlock r = ram.get(i);
            if (!b.id().equals(r.id()) || b.length() != r.length()) {
                throw new SnapshotFormatException(Problem.MALFORMED, MappedRamFormat.blockEntryOffset(i), name
                        + ": block table entry " + i + " is " + b.id() + " of " + b.length() + " bytes, but the"
                        + " guest's block " + i + " is " + r.id() + " of " + r.length() + " bytes");
            }
        }
    }

    /** Reads every page whose bit is set, in parallel runs; sets every page's CRC in {@code digest}. */
    private void readPages(MappedRamFile f, List<RamBlock> ram, FileChannel ch, PageDigest digest)
            throws IOException {
        long start = System.nanoTime();
        Chunks chunks = new Chunks();
        long present = 0;
        for (MappedRamFile.Block b : f.blocks()) {
            Bitmap bits = b.present();
            long pages = b.pages();
            for (long p = 0; p < pages; p++) {
                if (!bits.get(p)) {
                    digest.set(b.index(), p, Pages.ZERO_PAGE_CRC);
                }
            }
            long p = bits.nextSetBit(0);
            while (p >= 0) {
                long end = bits.nextClearBit(p);
                if (end < 0) {
                    end = pages;
                }
                present += end - p;
                for (long q = p; q < end; q += CHUNK_PAGES) {
                    chunks.add(b.index(), q, (int) Math.min(CHUNK_PAGES, end - q));
                }
                p = end < pages ? bits.nextSetBit(end) : -1;
            }
        }
        stats.pagesRead = present;
        stats.zeroPages = stats.ramSize / Pages.SIZE - present;
        int threads = (int) Math.min(THREADS, Math.max(1, chunks.size()));
        stats.readThreads = threads;
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().name("snapshot-reader-" + t).start(() -> {
                try {
                    readChunks(f, ram, ch, digest, chunks, next, failure);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.compareAndSet(null, new IOException("interrupted"));
            }
        }
        Throwable e = failure.get();
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e != null) {
            throw new IOException("reading " + file + " failed: " + e, e);
        }
        stats.bytesRead = present * Pages.SIZE;
        stats.readNanos = System.nanoTime() - start;
    }

    private void readChunks(MappedRamFile f, List<RamBlock> ram, FileChannel ch, PageDigest digest, Chunks chunks,
            AtomicInteger next, AtomicReference<Throwable> failure) throws IOException {
        CRC32C crc = new CRC32C();
        List<MappedRamFile.Block> blocks = f.blocks();
        int i;
        while (failure.get() == null && (i = next.getAndIncrement()) < chunks.size()) {
            int block = chunks.block(i);
            long page = chunks.page(i);
            int count = chunks.count(i);
            MappedRamFile.Block b = blocks.get(block);
            MemorySegment memory = ram.get(block).memory();
            long offset = page << Pages.SHIFT;
            ByteBuffer buf = memory.asSlice(offset, (long) count << Pages.SHIFT).asByteBuffer();
            long position = b.pagesOffset() + offset;
            while (buf.hasRemaining()) {
                int n;
                try {
                    n = ch.read(buf, position + buf.position());
                } catch (IOException e) {
                    throw new IOException("cannot read " + file + " at byte " + (position + buf.position()) + ": "
                            + e.getMessage(), e);
                }
                if (n < 0) {
                    throw new SnapshotFormatException(Problem.TRUNCATED, position + buf.position(), "snapshot " + file
                            + " ends at byte " + (position + buf.position()) + " inside the page area of block "
                            + b.id());
                }
            }
            for (int k = 0; k < count; k++) {
                buf.limit((k + 1) << Pages.SHIFT).position(k << Pages.SHIFT);
                crc.reset();
                crc.update(buf);
                digest.set(block, page + k, (int) crc.getValue());
            }
        }
    }

    /** Runs to read, as parallel arrays: (block, first page, page count). */
    private static final class Chunks {
        private int[] blocks = new int[256];
        private long[] pages = new long[256];
        private int[] counts = new int[256];
        private int size;

        void add(int block, long page, int count) {
            if (size == blocks.length) {
                blocks = java.util.Arrays.copyOf(blocks, size * 2);
                pages = java.util.Arrays.copyOf(pages, size * 2);
                counts = java.util.Arrays.copyOf(counts, size * 2);
            }
            blocks[size] = block;
            pages[size] = page;
            counts[size] = count;
            size++;
        }

        int size() {
            return size;
        }

        int block(int i) {
            return blocks[i];
        }

        long page(int i) {
            return pages[i];
        }

        int count(int i) {
            return counts[i];
        }
    }
}
